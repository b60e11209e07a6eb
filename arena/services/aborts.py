"""Ending a match that has not settled: cancelled (by a person, or its space closing) or failed
(a step gave up), with every entry fee returned from the match's escrow to its owner."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from arena.models import Entry, Match
from arena.services.events import publish_match_state
from arena.services.steps import S
from ledger import services as ledger

UNFINISHED = (S.FORMED, S.ROLLING_OUT, S.JUDGING, S.SETTLING)


@transaction.atomic
def match_abort(
    *, match_id: int, status: str = S.FAILED, reason: str, claim: int | None = None
) -> bool:
    """End a match that has not settled, returning every fee from its escrow to its owner.
    With ``claim``, only if that claim still holds (a step giving up on its own work)."""
    if status not in (S.CANCELLED, S.FAILED):
        raise ValueError(f"a match is aborted as cancelled or failed, not {status!r}")
    now = timezone.now()
    qs = Match.objects.filter(pk=match_id, status__in=UNFINISHED)
    if claim is not None:
        qs = qs.filter(claim=claim)
    if (
        qs.update(
            status=status,
            failure_reason=reason[:2000],
            finished_at=now,
            lease_until=None,
            updated=now,
        )
        != 1
    ):
        return False
    match = Match.objects.select_related("space").get(pk=match_id)
    for entry in Entry.objects.filter(match=match).select_related("owner"):
        if entry.fee:
            ledger.release(
                user=entry.owner,
                escrow_ref=match.escrow_ref,
                amount=entry.fee,
                key=f"match:{match.pk}:refund:{entry.pk}",
            )
        Entry.objects.filter(pk=entry.pk).update(status=Entry.Status.REFUNDED)
    publish_match_state(match, reason=match.failure_reason)
    return True


def match_cancel(*, match_id: int, reason: str = "cancelled") -> bool:
    return match_abort(match_id=match_id, status=S.CANCELLED, reason=reason)
