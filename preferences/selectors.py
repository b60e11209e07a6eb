"""Reads of preference pairs and of the matches a battles export lists."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from arena.models import Match, Seat
from judges.models import Verdict
from preferences.export_spec import ExportSpec
from preferences.models import PairGate, PreferencePair
from spaces.models import Prompt, Space


def gate_of(*, space: Space) -> PairGate:
    """The space's gate as stored, or (unsaved) the defaults it would be created with."""
    return PairGate.objects.filter(space=space).first() or PairGate(space=space)


def export_pairs(spec: ExportSpec) -> QuerySet[PreferencePair]:
    """The kept pairs of the space that pass the export's filters, oldest first. Pairs of a
    prompt that has since been moved to the held-out split are never exported."""
    f = spec.filters
    pairs = PreferencePair.objects.filter(
        space=spec.space, status=PreferencePair.Status.KEPT
    ).exclude(prompt__split=Prompt.Split.HELDOUT)
    if f.since:
        pairs = pairs.filter(match__finished_at__gte=f.since)
    if f.until:
        pairs = pairs.filter(match__finished_at__lt=f.until)
    if f.min_margin is not None:
        pairs = pairs.filter(margin__gte=f.min_margin)
    if f.min_agreement is not None:
        pairs = pairs.filter(agreement__gte=f.min_agreement)
    if f.agents:
        pairs = pairs.filter(Q(chosen_agent__in=f.agents) | Q(rejected_agent__in=f.agents))
    return pairs.order_by("pk")


def export_matches(spec: ExportSpec) -> QuerySet[Match]:
    """The settled matches of the space on train prompts that pass the date and agent filters,
    oldest first, with their seats (and agents) and verdicts."""
    f = spec.filters
    matches = Match.objects.filter(
        space=spec.space, status=Match.Status.SETTLED, prompt__split=Prompt.Split.TRAIN
    )
    if f.since:
        matches = matches.filter(finished_at__gte=f.since)
    if f.until:
        matches = matches.filter(finished_at__lt=f.until)
    if f.agents:
        matches = matches.filter(
            Exists(Seat.objects.filter(match=OuterRef("pk"), agent__in=f.agents))
        )
    return (
        matches.select_related("prompt")
        .prefetch_related(
            Prefetch("seats", queryset=Seat.objects.select_related("agent").order_by("index")),
            Prefetch("verdicts", queryset=Verdict.objects.order_by("id")),
        )
        .order_by("pk")
    )


def spaces_with_measurable_judges() -> list[Space]:
    """Spaces with settled matches whose panel has a verifier beside another judge: the only
    ones whose judge report can measure a judge's accuracy."""
    spaces = Space.objects.filter(matches__status=Match.Status.SETTLED).distinct().order_by("pk")
    return [
        space
        for space in spaces
        # a verifier and at least one other kind
        if {judge.get("kind") for judge in space.judge_panel or []} > {"verifier"}
    ]
