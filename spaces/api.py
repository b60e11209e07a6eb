"""API: spaces list and detail (under /api/v1/). Read only; spaces are run from the admin."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from spaces.models import EconomicsChange, FeeTier, Space
from spaces.selectors import change_log, prompt_counts, spaces_visible_to

CHANGE_LOG_LIMIT = 100


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
        live = FeeTier.objects.filter(retired_at__isnull=True)
        return spaces_visible_to(self.request.user).prefetch_related(
            Prefetch("fee_tiers", queryset=live)
        )


class FieldChangeSerializer(serializers.Serializer):
    before = serializers.JSONField()
    after = serializers.JSONField()


class TierChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["add", "change", "remove"])
    tier = serializers.IntegerField(allow_null=True, help_text="the tier's id; null for a new one")
    name = serializers.CharField()
    fee = serializers.IntegerField()
    before_name = serializers.CharField(allow_null=True)
    before_fee = serializers.IntegerField(allow_null=True)


class EconomicsChangeSerializer(serializers.ModelSerializer):
    author = serializers.CharField(
        source="who", read_only=True, help_text='the username, or "the platform"'
    )
    # Not named ``fields``: that name is the serializer's own.
    changes = serializers.DictField(
        source="fields",
        child=FieldChangeSerializer(),
        help_text="payout_shares, creator_rake_bps, platform_rake_bps, subsidy: before and after",
    )
    fee_tiers = TierChangeSerializer(many=True)
    lines = serializers.ListField(
        child=serializers.CharField(), help_text='the change in words: "creator rake 5% -> 7%"'
    )

    class Meta:
        model = EconomicsChange
        fields = [
            "id",
            "status",
            "author",
            "changes",
            "fee_tiers",
            "lines",
            "reason",
            "note",
            "announced_at",
            "effective_at",
            "applied_at",
            "withdrawn_at",
        ]


class SpaceChanges(APIView):
    """The space's public change log of its economics (payout shares, rakes, subsidy, fee
    tiers): announced changes first, soonest first, then the rest, newest first (at most
    100). A change applies to matches formed after its ``effective_at``."""

    permission_classes = [AllowAny]

    @extend_schema(responses=EconomicsChangeSerializer(many=True))
    def get(self, request, slug: str):
        space = get_object_or_404(spaces_visible_to(request.user), slug=slug)
        changes = change_log(space=space, limit=CHANGE_LOG_LIMIT)
        return Response(EconomicsChangeSerializer(changes, many=True).data)


urlpatterns = [
    path("spaces/", SpaceList.as_view(), name="api-space-list"),
    path("spaces/<slug:slug>/", SpaceDetail.as_view(), name="api-space-detail"),
    path("spaces/<slug:slug>/changes/", SpaceChanges.as_view(), name="api-space-changes"),
]
