"""API: spaces list and detail (under /api/v1/). Read only; spaces are run from the admin."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny

from spaces.models import FeeTier, Space
from spaces.selectors import prompt_counts, spaces_visible_to


class FeeTierSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeeTier
        fields = ["id", "name", "fee"]


class SpaceListSerializer(serializers.ModelSerializer):
    creator = serializers.CharField(source="creator.username", read_only=True)

    class Meta:
        model = Space
        fields = [
            "slug",
            "title",
            "task_kind",
            "status",
            "agents_per_match",
            "creator",
            "subsidy",
        ]


class PromptCountsSerializer(serializers.Serializer):
    train = serializers.IntegerField()
    heldout = serializers.IntegerField()


class SpaceDetailSerializer(SpaceListSerializer):
    fee_tiers = FeeTierSerializer(many=True, read_only=True)
    payout_shares = serializers.ListField(child=serializers.CharField())
    rules = serializers.DictField()
    judge_panel = serializers.ListField(child=serializers.DictField())
    prompts = serializers.SerializerMethodField()

    class Meta(SpaceListSerializer.Meta):
        fields = [
            *SpaceListSerializer.Meta.fields,
            "description",
            "rules",
            "payout_shares",
            "creator_rake_bps",
            "platform_rake_bps",
            "judge_panel",
            "fee_tiers",
            "prompts",
            "created",
            "updated",
        ]

    # Only counts: the prompts themselves (above all the held-out ones) stay private.
    def get_prompts(self, space: Space) -> PromptCountsSerializer:
        return PromptCountsSerializer(prompt_counts(space)).data


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter(
                "status", enum=Space.Status.values, description="only spaces in this status"
            )
        ]
    )
)
class SpaceList(generics.ListAPIView):
    """Spaces this user can see: every space past draft, plus their own drafts.
    Filter with ``?status=open``."""

    serializer_class = SpaceListSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        qs = spaces_visible_to(self.request.user).order_by("slug")
        status = self.request.query_params.get("status")
        if status is None:
            return qs
        if status not in Space.Status.values:
            # A typo would otherwise read as "no spaces".
            raise ValidationError({"status": [f"must be one of {', '.join(Space.Status.values)}"]})
        return qs.filter(status=status)


class SpaceDetail(generics.RetrieveAPIView):
    serializer_class = SpaceDetailSerializer
    permission_classes = [AllowAny]
    lookup_field = "slug"

    def get_queryset(self):
        return spaces_visible_to(self.request.user).prefetch_related("fee_tiers")


urlpatterns = [
    path("spaces/", SpaceList.as_view(), name="api-space-list"),
    path("spaces/<slug:slug>/", SpaceDetail.as_view(), name="api-space-detail"),
]
