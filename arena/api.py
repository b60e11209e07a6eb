"""REST API of the match loop: entries (enter, leave, list own), matches (detail), space
leaderboards and recent matches. Thin: validate the body, call a service, serialize."""

from __future__ import annotations

from django.core.validators import validate_slug
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from arena import selectors
from arena.api_support import ErrorSerializer
from arena.models import Entry, Match, Seat
from arena.services.entries import entry_create, entry_leave
from arena.services.errors import ArenaError, NotAllowed
from arena.services.judge_report import judge_report
from ledger.api.fields import StrictCharField, StrictIntegerField
from spaces.models import FeeTier
from spaces.selectors import spaces_managed_by, spaces_visible_to


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message}, status=code)


# --- serializers ------------------------------------------------------------------------------


class EntrySerializer(serializers.ModelSerializer):
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    space = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    fee_tier = serializers.CharField(source="fee_tier.name", read_only=True)

    class Meta:
        model = Entry
        fields = [
            "id",
            "agent",
            "agent_name",
            "space",
            "fee_tier",
            "fee",
            "status",
            "key",
            "automatic",
            "match",
            "created",
        ]
        read_only_fields = fields


class EntryCreateSerializer(serializers.Serializer):
    # Strict fields: a JSON value of another type is refused, not coerced (ledger/api/fields.py).
    agent = StrictIntegerField(min_value=1)
    # Untrimmed: the slug pattern is the whole rule, as the schema states it.
    space = StrictCharField(
        max_length=64, trim_whitespace=False, validators=[validate_slug], help_text="its slug"
    )
    fee_tier = StrictCharField(max_length=40, help_text="the tier's name")
    key = StrictCharField(
        max_length=120, help_text="idempotency key: the same key returns the same entry"
    )


class SeatSerializer(serializers.ModelSerializer):
    agent_name = serializers.CharField(source="agent.name", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Seat
        fields = [
            "index",
            "agent",
            "agent_name",
            "owner",
            "text",
            "prompt_tokens",
            "completion_tokens",
            "finish_reason",
            "violation",
            "latency_ms",
            "adapter_sha256",
            "generation_settings",
            "seed",
            "rank",
            "payout",
        ]
        read_only_fields = fields


class MatchSerializer(serializers.ModelSerializer):
    space = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    fee_tier = serializers.CharField(source="fee_tier.name", read_only=True)
    prompt = serializers.SerializerMethodField()
    seats = SeatSerializer(many=True, read_only=True)
    verdicts = serializers.SerializerMethodField()
    timings = serializers.SerializerMethodField()

    class Meta:
        model = Match
        fields = [
            "id",
            "space",
            "fee_tier",
            "status",
            "prompt",
            "seed",
            "fees",
            "subsidy",
            "pot",
            "creator_rake",
            "platform_rake",
            "failure_reason",
            "created",
            "rolling_out_at",
            "judging_at",
            "settling_at",
            "finished_at",
            "timings",
            "seats",
            "verdicts",
        ]
        read_only_fields = fields

    def get_prompt(self, match: Match) -> dict | None:
        if not selectors.prompt_is_visible(match):
            return None
        return {"id": match.prompt_id, "text": match.prompt.text}

    def get_verdicts(self, match: Match) -> list[dict]:
        # Text from answer code (a failing test's message) only for those with a stake in it.
        request = self.context.get("request")
        return selectors.verdicts_for(match, getattr(request, "user", None))

    def get_timings(self, match: Match) -> dict:
        return match.timings()


class MatchListSerializer(serializers.ModelSerializer):
    fee_tier = serializers.CharField(source="fee_tier.name", read_only=True)

    class Meta:
        model = Match
        fields = ["id", "fee_tier", "status", "pot", "created", "finished_at"]
        read_only_fields = fields


class LeaderboardRowSerializer(serializers.Serializer):
    place = serializers.IntegerField()
    agent_id = serializers.IntegerField()
    agent = serializers.CharField()
    owner = serializers.CharField()
    mu = serializers.FloatField()
    sigma = serializers.FloatField()
    ordinal = serializers.FloatField()
    matches = serializers.IntegerField()
    winnings = serializers.IntegerField()
    # From the space's standings (a Plackett-Luce fit net of answer length, 95% bootstrap
    # interval); null for an agent not in the fit yet or a space never fitted.
    strength = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField(allow_null=True)
    upper = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(
        allow_null=True,
        help_text="1 + the agents whose lower bound is above this one's upper bound",
    )
    win_rate = serializers.FloatField(allow_null=True, help_text="pairwise, a tie half a win")


# --- views ------------------------------------------------------------------------------------


class EntryListCreate(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "entry"  # POSTs only (ledger/throttling.py)

    @extend_schema(responses=EntrySerializer(many=True))
    def get(self, request):
        entries = selectors.entries_of(user=request.user)[:200]
        return Response(EntrySerializer(entries, many=True).data)

    @extend_schema(
        request=EntryCreateSerializer,
        responses={
            201: EntrySerializer,
            200: OpenApiResponse(EntrySerializer, description="replay of an earlier request"),
            404: OpenApiResponse(ErrorSerializer, description="no such agent of yours, or space"),
        },
    )
    def post(self, request):
        body = EntryCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        agent = Agent.objects.filter(pk=data["agent"], owner=request.user).first()
        if agent is None:
            return _error("no agent of yours has that id", status.HTTP_404_NOT_FOUND)
        space = spaces_visible_to(request.user).filter(slug=data["space"]).first()
        if space is None:
            return _error(f"no space {data['space']!r}", status.HTTP_404_NOT_FOUND)
        tier = FeeTier.objects.filter(space=space, name=data["fee_tier"]).first()
        if tier is None:
            return _error(f"space {space.slug!r} has no fee tier {data['fee_tier']!r}")
        try:
            entry, created = entry_create(
                agent=agent, space=space, fee_tier=tier, key=data["key"], user=request.user
            )
        except NotAllowed as exc:
            return _error(str(exc), status.HTTP_403_FORBIDDEN)
        except ArenaError as exc:
            return _error(str(exc))
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(EntrySerializer(entry).data, status=code)


class EntryDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=EntrySerializer)
    def get(self, request, pk: int):
        entry = get_object_or_404(selectors.entries_of(user=request.user), pk=pk)
        return Response(EntrySerializer(entry).data)


class EntryLeave(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: EntrySerializer,
            400: OpenApiResponse(ErrorSerializer, description="the entry can no longer be left"),
        },
    )
    def post(self, request, pk: int):
        entry = get_object_or_404(selectors.entries_of(user=request.user), pk=pk)
        try:
            entry = entry_leave(entry=entry, user=request.user)
        except ArenaError as exc:
            return _error(str(exc))
        return Response(EntrySerializer(entry).data)


class MatchDetail(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=MatchSerializer)
    def get(self, request, pk: int):
        match = selectors.match_detail(match_id=pk)
        if match is None or not spaces_visible_to(request.user).filter(pk=match.space_id).exists():
            return _error("no such match", status.HTTP_404_NOT_FOUND)
        return Response(MatchSerializer(match, context={"request": request}).data)


class SpaceLeaderboard(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=LeaderboardRowSerializer(many=True))
    def get(self, request, slug: str):
        space = get_object_or_404(spaces_visible_to(request.user), slug=slug)
        return Response(
            LeaderboardRowSerializer(selectors.leaderboard(space=space), many=True).data
        )


class SpaceMatches(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=MatchListSerializer(many=True))
    def get(self, request, slug: str):
        space = get_object_or_404(spaces_visible_to(request.user), slug=slug)
        matches = selectors.matches_of_space(space=space, limit=50)
        return Response(MatchListSerializer(matches, many=True).data)


class AccuracySerializer(serializers.Serializer):
    correct = serializers.IntegerField()
    pairs = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)


class JudgeBiasSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    kind = serializers.CharField()
    pairs = serializers.IntegerField()
    tie_rate = serializers.FloatField(allow_null=True)
    first_position_raw = serializers.FloatField(allow_null=True)
    first_position_debiased = serializers.FloatField(allow_null=True)
    order_flip_rate = serializers.FloatField(allow_null=True)
    length_correlation = serializers.FloatField(allow_null=True)
    accuracy = AccuracySerializer(allow_null=True)
    longer_wins_baseline = AccuracySerializer(allow_null=True)
    informative = serializers.BooleanField(allow_null=True)


class JudgeAgreementSerializer(serializers.Serializer):
    judges = serializers.ListField(child=serializers.IntegerField())
    pairs = serializers.IntegerField()
    kappa = serializers.FloatField(allow_null=True)


class JudgeReportSerializer(serializers.Serializer):
    space = serializers.CharField()
    matches = serializers.IntegerField()
    judges = JudgeBiasSerializer(many=True)
    agreement = JudgeAgreementSerializer(many=True)


class SpaceJudgeReport(APIView):
    """The space's judge-bias report, for its creator and staff."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: JudgeReportSerializer,
            404: OpenApiResponse(ErrorSerializer, description="no space of yours"),
        }
    )
    def get(self, request, slug: str):
        space = spaces_managed_by(request.user).filter(slug=slug).first()
        if space is None:
            return _error(f"no space {slug!r} of yours", status.HTTP_404_NOT_FOUND)
        return Response(JudgeReportSerializer(judge_report(space=space).as_dict()).data)
