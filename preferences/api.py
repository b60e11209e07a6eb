"""``GET /api/v1/spaces/<slug>/preferences/<fmt>/``: a space's preference export as a zip,
streamed (the same archive as the web download), for the space's creator and staff."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from preferences.errors import PreferenceError
from preferences.export_spec import STREAMED_FORMATS, export_spec
from preferences.streaming import zip_response
from preferences.throttling import ExportThrottle
from spaces.selectors import spaces_managed_by

# A date, optionally with a time and an offset (what ``export_spec`` parses).
MOMENT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)


class ExportQuerySerializer(serializers.Serializer):
    since = serializers.RegexField(
        MOMENT,
        required=False,
        help_text="matches settled at or after this date (YYYY-MM-DD) or ISO date and time",
    )
    until = serializers.RegexField(
        MOMENT,
        required=False,
        help_text="matches settled before this ISO date and time, or through this date",
    )
    min_margin = serializers.FloatField(
        required=False, min_value=0, max_value=1, help_text="pairs with at least this margin"
    )
    min_agreement = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="pairs whose judges (and orders) agreed at least this share",
    )
    agent = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="pairs with one of these agents on either side (repeat the parameter)",
    )
    include_system_prompt = serializers.BooleanField(
        required=False, default=False, help_text="trl-chat and battles: keep the system prompt"
    )


class PreferenceExport(APIView):
    throttle_classes = [ExportThrottle]  # GETs included: an export reads a whole space

    def export_space(self, request):
        """The space to export, or None when there is none for this user and format."""
        if self.kwargs.get("fmt") not in STREAMED_FORMATS:
            return None
        return spaces_managed_by(request.user).filter(slug=self.kwargs.get("slug")).first()

    # Errors answer JSON whatever the client accepts; the zip itself is not rendered.
    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        summary="Download a space's preference export (zip, streamed)",
        description=(
            "For the space's creator and staff. The zip holds the data file (data.jsonl), "
            "pairs.jsonl (each pair's provenance: the canonical JSON its content_sha256 covers), "
            "README.md (dataset card) and manifest.json (files' sha256, rows, filters, Merkle "
            "root of the pairs' hashes). parquet and hf exports are made with the "
            "export_preferences command."
        ),
        parameters=[
            ExportQuerySerializer,
            OpenApiParameter(
                "fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(STREAMED_FORMATS)
            ),
        ],
        # 400, 401, 403, 404 and 429 (with Retry-After) are documented by ArenaAutoSchema.
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
    )
    def get(self, request, slug: str, fmt: str):
        space = self.export_space(request)
        if space is None:
            return Response({"detail": "no such export"}, status=status.HTTP_404_NOT_FOUND)
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            spec = export_spec(
                space=space,
                fmt=fmt,
                since=params.get("since"),
                until=params.get("until"),
                min_margin=params.get("min_margin"),
                min_agreement=params.get("min_agreement"),
                agents=params.get("agent"),
                include_system_prompt=params["include_system_prompt"],
            )
        except PreferenceError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return zip_response(request._request, spec)
