"""Claiming a match's step: conditional UPDATEs, so a task run twice, or two workers at once,
do each step once (the healthchecks ``sendalerts`` pattern).

- A step that runs outside a transaction (rollout, judging: minutes of model time) takes a lease:
  ``lease_until`` set and ``claim`` incremented in one ``UPDATE ... WHERE status=S AND lease_until
  IS NULL``. It stores its result with ``UPDATE ... WHERE status=S AND claim=<its claim>``; if the
  reaper gave the step to another worker meanwhile, the claim differs and the late result is
  dropped.
- Settlement and aborts run inside one transaction whose first statement is the conditional
  UPDATE of the status; a second settler blocks on the row until the first commits, then matches
  zero rows. A worker killed mid-transaction leaves nothing behind.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from arena.models import Match

S = Match.Status


def lease_seconds() -> int:
    return int(getattr(settings, "ARENA_STEP_LEASE_S", 900))


def claim_step(*, match_id: int, step: str) -> int | None:
    """Claim ``step`` ("rollout" or "judge") of a match; returns the claim number, or None when
    the match is not waiting for that step (done, running elsewhere, or ended)."""
    now = timezone.now()
    lease = now + timedelta(seconds=lease_seconds())
    common = {
        "lease_until": lease,
        "claim": F("claim") + 1,
        "attempts": F("attempts") + 1,
        "updated": now,
    }
    if step == "rollout":
        updated = Match.objects.filter(
            pk=match_id, status=S.FORMED, lease_until__isnull=True
        ).update(status=S.ROLLING_OUT, rolling_out_at=Coalesce(F("rolling_out_at"), now), **common)
    elif step == "judge":
        updated = Match.objects.filter(
            pk=match_id, status=S.JUDGING, lease_until__isnull=True
        ).update(**common)
    else:
        raise ValueError(f"unknown step {step!r}")
    if updated != 1:
        return None
    return Match.objects.values_list("claim", flat=True).get(pk=match_id)


def complete_step(*, match_id: int, status: str, claim: int, to_status: str, **fields) -> bool:
    """Move the match on if this worker's claim still holds. Call inside the transaction that
    stores the step's result, so both happen or neither."""
    now = timezone.now()
    return (
        Match.objects.filter(pk=match_id, status=status, claim=claim).update(
            status=to_status, lease_until=None, attempts=0, updated=now, **fields
        )
        == 1
    )
