"""The match state machine: formed -> rolling_out -> judging -> settling -> settled, or
cancelled / failed with every fee returned. One function per step; the Celery tasks in
``arena.tasks`` only call these. See ``arena.services.steps`` for how a step is claimed."""

from __future__ import annotations

import dataclasses
import logging

from django.db import transaction
from django.utils import timezone

from arena.hooks import run_on_match_settled
from arena.models import Match, Seat
from arena.selectors import match_for_step, match_seats
from arena.services import dispatch
from arena.services.answer_policy import forfeits, rank_by_group, standing_group
from arena.services.events import publish_match_state
from arena.services.failures import step_failed
from arena.services.payouts import split_pot, terms_for
from arena.services.rollout_batch import rollout_matches
from arena.services.steps import S, claim_step, complete_step
from judges.models import Verdict
from judges.panel import run_panel
from judges.ratings import update_ratings
from ledger import services as ledger

logger = logging.getLogger(__name__)


# --- rollout -------------------------------------------------------------------------------


def match_rollout(*, match_id: int, backend=None) -> bool:
    """The rollout of this one match alone (tests, tools). The rollout task batches it with the
    other matches waiting: ``arena.services.rollout_batch.rollout_matches``."""
    return rollout_matches(match_id=match_id, backend=backend, cross_match=False)


# --- judging -------------------------------------------------------------------------------


def match_judge(*, match_id: int) -> bool:
    """Rank the answers with the space's judge panel; store verdicts and ranks."""
    claim = claim_step(match_id=match_id, step="judge")
    if claim is None:
        return False
    match = match_for_step(match_id)
    seats = match_seats(match)
    try:
        outcome = run_panel(
            panel_config=match.space.judge_panel,
            prompt_text=match.prompt.text,
            reference=match.prompt.reference,
            answers=[s.text for s in seats],
            tests=match.prompt.tests,
            space_id=match.space_id,
        )
        ranks = [int(r) for r in outcome.ranks]
        if len(ranks) != len(seats) or min(ranks) < 1:
            raise RuntimeError(f"judge panel returned ranks {ranks} for {len(seats)} answers")
        policy = match.space.rule("injection_policy")
        ranks = rank_by_group(ranks, [standing_group(seat, policy) for seat in seats])
    except Exception as exc:  # noqa: BLE001 - the failure policy decides: retry or refund
        step_failed(match_id=match_id, step="judge", exc=exc, claim=claim)
        return True
    now = timezone.now()
    with transaction.atomic():
        if not complete_step(
            match_id=match_id, status=S.JUDGING, claim=claim, to_status=S.SETTLING, settling_at=now
        ):
            return False
        for verdict in outcome.verdicts:
            Verdict.objects.create(match=match, **verdict_fields(verdict))
        for seat, rank in zip(seats, ranks, strict=True):
            Seat.objects.filter(pk=seat.pk).update(rank=rank)
        match.refresh_from_db()
        publish_match_state(match, ranks=ranks)
        dispatch.enqueue_step(match_id=match_id, status=match.status)
    return True


def verdict_fields(verdict) -> dict:
    """A judges.panel VerdictData as Verdict model fields (kind + JSON data)."""
    data = dataclasses.asdict(verdict) if dataclasses.is_dataclass(verdict) else dict(verdict)
    kind = data.pop("kind", None) or data.pop("judge_kind", "")
    return {"judge_kind": kind, "data": data}


# --- settlement ----------------------------------------------------------------------------


def match_settle(*, match_id: int) -> bool:
    """Pay the pot by rank, exactly once (see ``arena.services.payouts`` for the rounding rule),
    and update the space's ratings. Returns True when this call settled the match. A settlement
    that raises has rolled back whole; the failure policy then retries it or refunds the match."""
    try:
        return _settle(match_id=match_id)
    except Exception as exc:  # noqa: BLE001 - the failure policy decides: retry or refund
        step_failed(match_id=match_id, step="settle", exc=exc)
        return False


@transaction.atomic
def _settle(*, match_id: int) -> bool:
    """One transaction: the status change comes first, so a racing settler waits on the row and
    then finds nothing to do."""
    now = timezone.now()
    if (
        Match.objects.filter(pk=match_id, status=S.SETTLING).update(
            status=S.SETTLED, finished_at=now, lease_until=None, updated=now
        )
        != 1
    ):
        return False
    match = match_for_step(match_id)
    space = match.space
    seats = match_seats(match)
    escrow = ledger.escrow_account(match.escrow_ref)
    terms = terms_for(match)
    if terms["subsidy"]:
        ledger.subsidize(
            escrow_ref=match.escrow_ref, amount=terms["subsidy"], key=f"match:{match.pk}:subsidy"
        )
    pot = ledger.balance(escrow)
    ranks = [seat.rank for seat in seats]
    policy = space.rule("injection_policy")
    split = split_pot(
        pot=pot,
        ranks=ranks,
        forfeit=forfeits([standing_group(seat, policy) for seat in seats]),
        shares=terms["payout_shares"],
        creator_rake_bps=terms["creator_rake_bps"],
        platform_rake_bps=terms["platform_rake_bps"],
    )
    payouts = [
        (ledger.creator_revenue_account(space.creator), split.creator_rake),
        (ledger.system_account("platform_revenue"), split.platform_rake),
        *[
            (ledger.user_account(seat.owner), amount)
            for seat, amount in zip(seats, split.payouts, strict=True)
        ],
    ]
    payouts = [(account, amount) for account, amount in payouts if amount > 0]
    if payouts:
        ledger.settle(escrow_ref=match.escrow_ref, payouts=payouts, key=f"match:{match.pk}:settle")
    for seat, amount in zip(seats, split.payouts, strict=True):
        Seat.objects.filter(pk=seat.pk).update(payout=amount)
    Match.objects.filter(pk=match.pk).update(
        subsidy=pot - match.fees,
        pot=pot,
        creator_rake=split.creator_rake,
        platform_rake=split.platform_rake,
    )
    order = sorted(seats, key=lambda s: (s.rank, s.index))
    rated = update_ratings(
        space=space, agents_in_rank_order=[s.agent for s in order], ranks=[s.rank for s in order]
    )
    # Each seat keeps its agent's rating before and after this match: the match page says how
    # the match moved it, whatever happens to the rating later.
    for seat, row in zip(order, rated, strict=True):
        Seat.objects.filter(pk=seat.pk).update(
            rating_before=row.previous, rating_after={"mu": row.mu, "sigma": row.sigma}
        )
    match.refresh_from_db()
    run_on_match_settled(match)
    publish_match_state(match, payouts=split.payouts)
    return True


# --- driving a match without a worker --------------------------------------------------------


def match_run_inline(*, match_id: int, max_steps: int = 10) -> Match:
    """Run the match's remaining steps in this process, by calling the same task functions a
    worker runs, in order (``play`` and tests)."""
    with dispatch.inline():
        for _ in range(max_steps):
            status = Match.objects.values_list("status", flat=True).get(pk=match_id)
            step = dispatch.step_task(status)
            if step is None:
                break
            step(match_id)
    return match_for_step(match_id)
