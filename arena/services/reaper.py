"""Ending or resuming matches whose worker went away.

Run every minute by the ``arena.reap_stuck_matches`` task:

- a step whose lease ran out (its worker was SIGKILLed, or hangs) is handed back: a rollout goes
  back to ``formed``, a judging keeps its status with no lease, and the step's task is queued
  again; the worker that lost the lease can no longer store its result (its claim is stale).
  After ``ARENA_STEP_MAX_ATTEMPTS`` claims of one step (the budget of
  ``arena.services.failures``) the match fails instead, with refunds;
- a step waiting with no lease for longer than ``requeue_after`` (its message was lost with a
  broker or a worker) is queued again; claiming makes a duplicate harmless;
- a match older than the deadline that is still not final fails, with refunds.

Every path ends in exactly one final state because every move is a conditional UPDATE.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from arena.models import Match
from arena.services import dispatch
from arena.services.aborts import match_abort
from arena.services.failures import hand_back, max_attempts
from arena.services.steps import S


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def reap_stuck_matches(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Returns (match id, what was done) for every match touched."""
    now = now or timezone.now()
    done: list[tuple[int, str]] = []
    deadline = now - timedelta(seconds=_setting("ARENA_MATCH_DEADLINE_S", 3 * 3600))
    for match_id in Match.objects.filter(
        created__lt=deadline, status__in=[S.FORMED, S.ROLLING_OUT, S.JUDGING, S.SETTLING]
    ).values_list("pk", flat=True):
        if match_abort(match_id=match_id, status=S.FAILED, reason="match deadline passed"):
            done.append((match_id, "failed: deadline"))

    expired = Match.objects.select_related("space").filter(
        status__in=[S.ROLLING_OUT, S.JUDGING], lease_until__lt=now
    )
    for match in expired:
        if match.attempts >= max_attempts():
            if match_abort(
                match_id=match.pk,
                status=S.FAILED,
                claim=match.claim,
                reason=f"{match.status} timed out {match.attempts} times",
            ):
                done.append((match.pk, "failed: attempts"))
        else:
            was = match.status
            if hand_back(match_id=match.pk, status=match.status, claim=match.claim, now=now):
                done.append((match.pk, f"resumed {was}"))

    quiet = now - timedelta(seconds=_setting("ARENA_REQUEUE_AFTER_S", 120))
    waiting = Match.objects.filter(
        status__in=[S.FORMED, S.JUDGING, S.SETTLING], lease_until__isnull=True, updated__lt=quiet
    )
    for match_id, status in waiting.values_list("pk", "status"):
        Match.objects.filter(pk=match_id, status=status).update(updated=now)
        dispatch.enqueue_step(match_id=match_id, status=status)
        done.append((match_id, f"requeued {status}"))
    return done
