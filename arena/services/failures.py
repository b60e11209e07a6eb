"""What a match step does when it fails: one policy for rollout, judging and settlement.

- A transient error (the database connection went away, the worker ran out of memory, an
  inference server timed out or could not be reached, the task's soft time limit) hands the step
  back and queues it again after a back-off of ``ARENA_STEP_RETRY_BASE_S * 2**(n-1)`` seconds,
  where n counts the step's attempts. After ``ARENA_STEP_MAX_ATTEMPTS`` attempts the match fails
  instead, with every fee refunded.
- Any other error is permanent (bad input, a judge config error, a model that returned the wrong
  number of answers): the match fails at once, with refunds.

The reaper uses the same hand-back and the same attempt budget for a step whose worker vanished.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.utils import timezone

from agents.inference.base import InferenceUnavailable
from arena.models import Match
from arena.services import dispatch
from arena.services.aborts import match_abort
from arena.services.events import publish_match_state
from arena.services.steps import S

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,  # connection lost, server restarting, SQLite "database is locked"
    InterfaceError,  # connection already closed
    MemoryError,
    TimeoutError,
    ConnectionError,
    SoftTimeLimitExceeded,
    InferenceUnavailable,  # an inference server that timed out or was unreachable after retries
)

STEP_LABELS = {"rollout": "rollout", "judge": "judging", "settle": "settlement"}
STEP_STATUSES = {"rollout": S.ROLLING_OUT, "judge": S.JUDGING, "settle": S.SETTLING}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    # CUDA's out-of-memory error (torch.OutOfMemoryError) is matched by name: importing torch here
    # would load it into every process that runs a step, GPU or not.
    return type(exc).__name__ == "OutOfMemoryError"


def max_attempts() -> int:
    return settings.ARENA_STEP_MAX_ATTEMPTS


def backoff_seconds(attempt: int) -> float:
    base = float(settings.ARENA_STEP_RETRY_BASE_S)
    return base * 2 ** max(attempt - 1, 0)


def hand_back(
    *,
    match_id: int,
    status: str,
    claim: int | None,
    countdown: float | None = None,
    now: datetime | None = None,
) -> bool:
    """Release a step so it is done again: a rollout goes back to ``formed``, judging and
    settlement keep their status with no lease; the step's task is queued (after ``countdown``
    seconds). Only if ``claim`` still holds, so a worker that lost its lease hands back nothing."""
    back_to = S.FORMED if status == S.ROLLING_OUT else status
    qs = Match.objects.filter(pk=match_id, status=status)
    if claim is not None:
        # A claimed step holds a lease; once handed back (lease cleared) it is not handed again.
        qs = qs.filter(claim=claim, lease_until__isnull=False)
    if qs.update(status=back_to, lease_until=None, updated=now or timezone.now()) != 1:
        return False
    match = Match.objects.select_related("space").get(pk=match_id)
    publish_match_state(match, resumed=True)
    dispatch.enqueue_step(match_id=match_id, status=back_to, countdown=countdown)
    return True


def step_failed(*, match_id: int, step: str, exc: BaseException, claim: int | None = None) -> str:
    """Apply the policy to ``step`` ("rollout", "judge" or "settle") of a match, which raised
    ``exc``. Returns "retry" (handed back, queued after a back-off), "failed" (ended with
    refunds) or "lost" (another worker holds the step now; nothing done)."""
    label = STEP_LABELS[step]
    status = STEP_STATUSES[step]
    if not connection.in_atomic_block:
        # After a lost connection Django keeps the broken one until told; the bookkeeping below
        # needs a working one.
        connection.close_if_unusable_or_obsolete()
    if step == "settle":
        # Settlement takes no lease (its transaction is the claim), so count its attempts here.
        Match.objects.filter(pk=match_id, status=status).update(attempts=F("attempts") + 1)
    attempts = Match.objects.values_list("attempts", flat=True).get(pk=match_id)
    transient = is_transient(exc)
    if transient and attempts < max_attempts():
        logger.warning(
            "%s of match %s failed (attempt %s, will retry): %r", label, match_id, attempts, exc
        )
        handed = hand_back(
            match_id=match_id, status=status, claim=claim, countdown=backoff_seconds(attempts)
        )
        return "retry" if handed else "lost"
    logger.error("%s of match %s failed: %r", label, match_id, exc, exc_info=exc)
    reason = f"{label} failed: {exc}"
    if transient:
        reason += f" (gave up after {attempts} attempts)"
    aborted = match_abort(match_id=match_id, status=S.FAILED, reason=reason, claim=claim)
    return "failed" if aborted else "lost"
