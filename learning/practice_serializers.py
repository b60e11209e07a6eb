"""The practice API's shapes: the request (sides as tokens, a draft as an object) and a run
with its games, each verdict in words beside what the judge stored."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator, validate_slug
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import REVISION_FIELDS, Agent
from learning.practice_selectors import RunView
from ledger.api.fields import StrictCharField, StrictIntegerField

_TYPES = {
    "TextField": {"type": "string"},
    "FloatField": {"type": "number"},
    "PositiveIntegerField": {"type": "integer", "minimum": 0},
    "BooleanField": {"type": "boolean"},
    "JSONField": {"type": "array", "items": {"type": "string"}},
}
TOKEN_HELP = (
    '"agent:<id>" (an agent\'s live configuration) or "revision:<agent id>:<number>" '
    "(one revision), of your agents"
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            f: _TYPES[Agent._meta.get_field(f).get_internal_type()] for f in REVISION_FIELDS
        },
        "description": (
            "settings of side A's agent to change for this run; unknown names are refused"
        ),
    }
)
class DraftField(serializers.JSONField):
    pass


TOKEN = RegexValidator(r"^(agent:[0-9]{1,11}|revision:[0-9]{1,11}:[0-9]{1,11})$")


class PracticeRequestSerializer(serializers.Serializer):
    space = StrictCharField(
        max_length=64,
        validators=[validate_slug],
        help_text="the space's slug: its training prompts",
    )
    k = StrictIntegerField(
        min_value=1,
        max_value=settings.ARENA_PRACTICE_MAX_PROMPTS,
        help_text="how many prompts (one game each)",
    )
    a = StrictCharField(max_length=40, validators=[TOKEN], help_text=f"side A: {TOKEN_HELP}")
    b = StrictCharField(
        max_length=40,
        validators=[TOKEN],
        required=False,
        help_text=f"side B: {TOKEN_HELP}; absent: side A's agent's live configuration",
    )
    draft = DraftField(required=False, help_text="a draft: side A is its agent with these values")


class PracticeSideSerializer(serializers.Serializer):
    label = serializers.CharField()
    agent = serializers.IntegerField()
    revision = serializers.IntegerField(allow_null=True, help_text="its number, if recorded")
    live = serializers.BooleanField()
    adapter_version = serializers.IntegerField(allow_null=True, help_text="None: the base model")
    config = serializers.JSONField()


class PracticeGameSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    seed = serializers.IntegerField()
    a_text = serializers.CharField()
    b_text = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["a", "tie", "b"])
    result = serializers.CharField(help_text="in words")
    verdicts = serializers.ListField(
        child=serializers.CharField(), help_text="each judge's, in words"
    )
    verdict_data = serializers.JSONField(help_text="what each judge stored (run_panel)")


class PracticeRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()
    space = serializers.CharField(help_text="slug")
    k = serializers.IntegerField()
    fee = serializers.IntegerField()
    a = PracticeSideSerializer()
    b = PracticeSideSerializer()
    games = serializers.IntegerField()
    wins = serializers.IntegerField(help_text="side A's")
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True, help_text="(wins + ties / 2) / games")
    low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval")
    high = serializers.FloatField(allow_null=True)
    summary = serializers.CharField(help_text="the result in words; empty until done")
    applied_revision = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    game_list = PracticeGameSerializer(many=True)


OUTCOME_WORDS = {1: "a", 0: "tie", -1: "b"}


def _side(view: RunView, side: str) -> dict:
    run = view.run
    revision = getattr(run, f"{side}_revision")
    adapter = getattr(run, f"{side}_adapter")
    return {
        "label": view.a_label if side == "a" else view.b_label,
        "agent": getattr(run, f"{side}_agent_id"),
        "revision": revision.number if revision else None,
        "live": getattr(run, f"{side}_live"),
        "adapter_version": adapter.number if adapter else None,
        "config": getattr(run, f"{side}_config"),
    }


def run_data(view: RunView) -> dict:
    run = view.run
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "detail": run.detail,
        "space": run.space.slug,
        "k": run.k,
        "fee": run.fee,
        "a": _side(view, "a"),
        "b": _side(view, "b"),
        "games": run.games,
        "wins": run.wins,
        "losses": run.losses,
        "ties": run.ties,
        "win_rate": run.win_rate,
        "low": run.low,
        "high": run.high,
        "summary": view.summary,
        "applied_revision": run.applied_revision.number if run.applied_revision else None,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "game_list": [
            {
                "prompt": g.prompt,
                "seed": g.game.seed,
                "a_text": g.game.a_text,
                "b_text": g.game.b_text,
                "outcome": OUTCOME_WORDS[g.game.outcome],
                "result": g.result,
                "verdicts": g.verdicts,
                "verdict_data": g.game.verdicts,
            }
            for g in view.games
        ],
    }
