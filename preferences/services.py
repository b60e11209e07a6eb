"""Preference pairs from settled matches, and the per-space gates that keep or hold them back.

Every settled match runs ``pairs_from_match`` inside its settlement's transaction (registered
with ``arena.hooks`` in ``PreferencesConfig.ready``). For every two seats whose weighted panel
totals differ it stores one pair, the better answer chosen and the worse rejected; equal totals
(ties) make no pair. Answers that broke the space's content limits are never chosen. A match on
a held-out prompt makes no pairs at all.

A stored pair is ``kept`` or ``held_back`` with the reasons (``gate_reasons``): a margin not
above the gate's ``min_margin``, an agreement below ``min_agreement``, a pair decided only by
judges the gate marks uninformative, a duplicate of a kept pair (same prompt, chosen and
rejected text), a pair one of whose rollouts failed its audit (``arena.services.rollout_audit``).
Changing the gate, or an audit's flag, re-gates the space's pairs (``pairs_regate``), oldest first.

Which judge kinds are uninformative follows the space's judge report (``gate_follow_judge_report``,
task ``preferences.follow_judge_reports``): a kind the report measured uninformative against the
verifier is added to the gate's list, a kind it measured informative is taken off, a kind it
could not measure keeps what the creator set.
"""

from __future__ import annotations

import logging
from itertools import combinations

from django.core.exceptions import ValidationError
from django.db import transaction

from agents.models import Agent
from arena.models import Match, Seat
from arena.services.judge_report import judge_report
from preferences import scoring
from preferences.errors import PreferenceError
from preferences.models import PairGate, PreferencePair
from spaces.models import Prompt, Space, text_digest

logger = logging.getLogger(__name__)

GATE_FIELDS = ("min_margin", "min_agreement", "drop_duplicates", "uninformative_judge_kinds")
REASON_MAX_CHARS = 300


def on_match_settled(match: Match) -> None:
    """The callback ``arena.hooks`` runs for every settled match."""
    pairs_from_match(match=match)


def on_rollout_flag_changed(match: Match) -> None:
    """The callback ``arena.hooks`` runs when an audit flags (or clears) a rollout of ``match``:
    re-gate the space (holding a pair back can change which later duplicate is kept)."""
    pairs_regate(space=match.space)


# --- gates ------------------------------------------------------------------------------------


def gate_for(*, space: Space) -> PairGate:
    """The space's gate, created with the defaults on first use."""
    gate, _ = PairGate.objects.get_or_create(space=space)
    return gate


@transaction.atomic
def gate_update(*, space: Space, **changes) -> PairGate:
    """Change the space's gate and re-gate its pairs. Unknown or invalid values raise
    PreferenceError and change nothing."""
    unknown = sorted(set(changes) - set(GATE_FIELDS))
    if unknown:
        raise PreferenceError(f"unknown gate setting(s): {', '.join(unknown)}")
    kinds = changes.get("uninformative_judge_kinds")
    if kinds is not None and (
        not isinstance(kinds, list) or not all(isinstance(k, str) and k for k in kinds)
    ):
        raise PreferenceError("uninformative_judge_kinds must be a list of judge kind names")
    gate = PairGate.objects.select_for_update().get(pk=gate_for(space=space).pk)
    for field, value in changes.items():
        setattr(gate, field, value)
    try:
        gate.full_clean(exclude=["space"])
    except ValidationError as exc:
        raise PreferenceError("; ".join(exc.messages)) from None
    gate.save()
    pairs_regate(space=space)
    return gate


def measured_uninformative(*, space: Space) -> tuple[set[str], set[str]]:
    """(kinds measured uninformative, kinds measured informative) by the space's judge report.
    A kind counts as informative only when every judge of that kind the report measured is."""
    measured: dict[str, list[bool]] = {}
    for judge in judge_report(space=space).judges:
        if judge.informative is not None:
            measured.setdefault(judge.kind, []).append(judge.informative)
    bad = {kind for kind, flags in measured.items() if not all(flags)}
    return bad, set(measured) - bad


def gate_follow_judge_report(*, space: Space) -> PairGate:
    """Mark in the space's gate the judge kinds its judge report measured uninformative (and
    unmark those it measured informative), re-gating the pairs when that changes the list."""
    bad, good = measured_uninformative(space=space)
    current = set(gate_for(space=space).uninformative_judge_kinds or [])
    wanted = (current - good) | bad
    if wanted == current:
        return gate_for(space=space)
    logger.info("space %s: judge kinds uninformative now %s", space.slug, sorted(wanted))
    return gate_update(space=space, uninformative_judge_kinds=sorted(wanted))


def gate_reasons(
    *, gate: PairGate, margin: float, agreed: int, votes: int, deciding_kinds: list[str]
) -> list[str]:
    """Why a pair with these numbers is held back under ``gate`` (empty: it passes)."""
    reasons = []
    if margin <= gate.min_margin:
        reasons.append(f"margin {margin:.4f} is not above the gate's {gate.min_margin:.4f}")
    agreement = agreed / votes if votes else 0.0
    if agreement < gate.min_agreement:
        reasons.append(f"agreement {agreed}/{votes} is below the gate's {gate.min_agreement:.2f}")
    uninformative = set(gate.uninformative_judge_kinds or [])
    if deciding_kinds and set(deciding_kinds) <= uninformative:
        reasons.append(f"decided only by uninformative judges: {', '.join(deciding_kinds)}")
    return reasons


def _duplicate_of(pair: PreferencePair) -> int | None:
    """The id of an earlier kept pair with the same prompt and answers, if any."""
    earlier = PreferencePair.objects.filter(
        space_id=pair.space_id,
        status=PreferencePair.Status.KEPT,
        prompt_sha256=pair.prompt_sha256,
        chosen_text_sha256=pair.chosen_text_sha256,
        rejected_text_sha256=pair.rejected_text_sha256,
    )
    if pair.pk is not None:
        earlier = earlier.filter(pk__lt=pair.pk)
    return earlier.order_by("pk").values_list("pk", flat=True).first()


def _decide(pair: PreferencePair, gate: PairGate, *, heldout: bool) -> tuple[str, str]:
    """(status, reason) of ``pair`` under ``gate``."""
    reasons = ["the prompt is held out"] if heldout else []
    audits = (pair.chosen_seat.audit_status, pair.rejected_seat.audit_status)
    if Seat.AuditStatus.FLAGGED in audits:
        reasons.append("a rollout failed its audit")
    reasons += gate_reasons(
        gate=gate,
        margin=pair.margin,
        agreed=pair.agreement_count,
        votes=pair.agreement_total,
        deciding_kinds=pair.deciding_judge_kinds,
    )
    if not reasons and gate.drop_duplicates:
        duplicate = _duplicate_of(pair)
        if duplicate is not None:
            reasons.append(f"duplicate of pair #{duplicate}")
    if reasons:
        return PreferencePair.Status.HELD_BACK, "; ".join(reasons)[:REASON_MAX_CHARS]
    return PreferencePair.Status.KEPT, ""


@transaction.atomic
def pairs_regate(*, space: Space) -> int:
    """Apply the space's gate again to every pair, oldest first (so of two duplicates the
    older is kept). Returns how many pairs changed status or reason."""
    gate = gate_for(space=space)
    changed = 0
    pairs = (
        PreferencePair.objects.filter(space=space)
        .select_related("prompt", "chosen_seat", "rejected_seat")
        .order_by("pk")
        .iterator(chunk_size=500)
    )
    for pair in pairs:
        status, reason = _decide(pair, gate, heldout=pair.prompt.split == Prompt.Split.HELDOUT)
        if (status, reason) != (pair.status, pair.held_back_reason):
            PreferencePair.objects.filter(pk=pair.pk).update(status=status, held_back_reason=reason)
            changed += 1
    return changed


# --- pairs ------------------------------------------------------------------------------------


def _side(prefix: str, seat: Seat) -> dict:
    agent: Agent = seat.agent
    return {
        f"{prefix}_seat": seat,
        f"{prefix}_text": seat.text,
        f"{prefix}_text_sha256": text_digest(seat.text),
        f"{prefix}_agent": agent,
        f"{prefix}_adapter_sha256": seat.adapter_sha256,
        f"{prefix}_generation_settings": seat.generation_settings or {},
        f"{prefix}_system_prompt": agent.system_prompt,
    }


@transaction.atomic
def pairs_from_match(*, match: Match) -> list[PreferencePair]:
    """The match's preference pairs, made once: a second call returns the stored ones (a pair
    is unique per match and seats). Only a settled match on a train prompt makes pairs."""
    match = Match.objects.select_related("prompt", "space").get(pk=match.pk)
    if match.status != Match.Status.SETTLED:
        raise PreferenceError(f"match #{match.pk} is {match.status}, not settled")
    stored = list(match.preference_pairs.order_by("pk"))
    if stored or match.prompt.split == Prompt.Split.HELDOUT:
        return stored
    seats = list(match.seats.select_related("agent").order_by("index"))
    verdicts = sorted(
        match.verdicts.values_list("id", "judge_kind", "data"),
        key=lambda v: ((v[2] or {}).get("index", 0), v[0]),
    )
    if len(seats) < 2 or not verdicts:
        return []
    try:
        judges = scoring.judge_scores(verdicts, len(seats))
    except scoring.VerdictShapeError as exc:
        # A verdict this code cannot read must not undo the settlement: no pairs, say why.
        logger.warning("no preference pairs from match #%s: %s", match.pk, exc)
        return []
    totals = scoring.totals(judges, len(seats))
    gate = gate_for(space=match.space)
    verdict_ids = sorted(v[0] for v in verdicts)
    pairs = []
    for i, j in combinations(range(len(seats)), 2):
        if totals[i] == totals[j]:
            continue  # a tie teaches nothing
        chosen, rejected = (i, j) if totals[i] > totals[j] else (j, i)
        if seats[chosen].violation:
            continue  # an answer that broke the content limits is never the one to learn
        comparison = scoring.compare(judges, chosen, rejected)
        pair = PreferencePair(
            match=match,
            space=match.space,
            prompt=match.prompt,
            prompt_text=match.prompt.text,
            prompt_sha256=match.prompt.text_sha256,
            **_side("chosen", seats[chosen]),
            **_side("rejected", seats[rejected]),
            verdict_ids=verdict_ids,
            margin=float(comparison.margin),
            agreement_count=comparison.agreed,
            agreement_total=comparison.votes,
            agreement=comparison.agreed / comparison.votes if comparison.votes else 0.0,
            deciding_judge_kinds=comparison.deciding_kinds,
        )
        pair.content_sha256 = pair.compute_content_sha256()
        pair.status, pair.held_back_reason = _decide(pair, gate, heldout=False)
        pair.save()
        pairs.append(pair)
    return pairs
