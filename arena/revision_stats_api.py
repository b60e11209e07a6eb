"""``GET /api/v1/agents/<id>/revision-stats/``: an agent's record per space and revision
(``arena.revision_stats``), with its rating after each match. Public to any signed-in player,
like the agent page: it holds no prompt."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import agent_get
from arena.revision_stats import rating_history, revision_records


class RevisionStatsRowSerializer(serializers.Serializer):
    revision = serializers.IntegerField(
        allow_null=True, help_text="null: matches from before revisions were recorded"
    )
    matches = serializers.IntegerField()
    wins = serializers.FloatField(help_text="a shared first place counts a share of a win")
    win_rate = serializers.FloatField(allow_null=True)
    win_rate_low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval")
    win_rate_high = serializers.FloatField(allow_null=True)
    average_rank = serializers.FloatField(allow_null=True)
    average_rank_low = serializers.FloatField(allow_null=True, help_text="95% Student-t interval")
    average_rank_high = serializers.FloatField(allow_null=True)
    fees_paid = serializers.IntegerField()
    prizes_won = serializers.IntegerField()
    net_credits = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    latest = serializers.IntegerField()
    previous = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["better", "worse", "undecided"])
    sentence = serializers.CharField()


class RatingPointSerializer(serializers.Serializer):
    match = serializers.IntegerField()
    at = serializers.CharField(help_text="when the match settled, ISO 8601")
    revision = serializers.IntegerField(allow_null=True)
    mu = serializers.FloatField()
    sigma = serializers.FloatField()
    low = serializers.FloatField(help_text="mu - 2 sigma")
    high = serializers.FloatField(help_text="mu + 2 sigma")


class SpaceRevisionStatsSerializer(serializers.Serializer):
    space = serializers.CharField(help_text="the space's slug")
    space_title = serializers.CharField()
    revisions = RevisionStatsRowSerializer(many=True)
    comparison = ComparisonSerializer(allow_null=True)
    rating_history = RatingPointSerializer(many=True)


class AgentRevisionStats(APIView):
    @extend_schema(responses={200: SpaceRevisionStatsSerializer(many=True)})
    def get(self, request, pk: int):
        agent = agent_get(agent_id=pk)
        if agent is None:
            raise Http404("no such agent")
        data = []
        for record in revision_records(agent):
            cmp = record.comparison
            data.append(
                {
                    "space": record.space.slug,
                    "space_title": record.space.title,
                    "revisions": [row.as_dict() for row in record.revisions],
                    "comparison": None
                    if cmp is None
                    else {
                        "latest": cmp.latest.number,
                        "previous": cmp.previous.number,
                        "outcome": cmp.outcome,
                        "sentence": cmp.sentence,
                    },
                    "rating_history": [p.as_dict() for p in rating_history(agent, record.space)],
                }
            )
        return Response(SpaceRevisionStatsSerializer(data, many=True).data)
