"""Celery tasks of the orchestration app. Thin: take IDs, call one service.

The step tasks are idempotent (each claims its step with a conditional UPDATE), so they opt into
``acks_late`` + ``reject_on_worker_lost``: a message whose worker died is delivered again, and
the redelivery finds the step done, running, or handed back by the reaper.
Queues come from ``arena.celery``'s routes: ``*.rollout_*`` -> rollout, ``*.judge_*`` -> judge,
everything else here -> default.
"""

from __future__ import annotations

import logging

from celery import shared_task

from arena.realtime import publish
from arena.services import dispatch
from arena.services.automation import auto_enter_agents as auto_enter
from arena.services.matches import match_judge, match_settle
from arena.services.matchmaking import matchmake_all
from arena.services.reaper import reap_stuck_matches as reap
from arena.services.rollout_audit import audit_sample
from arena.services.rollout_batch import rollout_matches
from arena.services.standings import refit_due_spaces

logger = logging.getLogger(__name__)

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="arena.broadcast")
def broadcast(group: str, event: str, payload: dict) -> None:
    """Publish an event from a worker process (used by the cross-process live-update test
    and by operators to poke a page)."""
    publish(group, event, payload)


@shared_task(name="arena.rollout_match", **IDEMPOTENT)
def rollout_match(match_id: int) -> bool:
    # With the other formed matches waiting, up to the row budget, in one generate; not when
    # steps run inline (``match_run_inline``: one match's steps in this process, nothing queued).
    return rollout_matches(match_id=match_id, cross_match=not dispatch.is_inline())


@shared_task(name="arena.judge_match", **IDEMPOTENT)
def judge_match(match_id: int) -> bool:
    return match_judge(match_id=match_id)


@shared_task(name="arena.settle_match", **IDEMPOTENT)
def settle_match(match_id: int) -> bool:
    return match_settle(match_id=match_id)


@shared_task(name="arena.reap_stuck_matches")
def reap_stuck_matches() -> list:
    return reap()


@shared_task(name="arena.matchmake")
def matchmake() -> list[int]:
    return [m.pk for m in matchmake_all()]


@shared_task(name="arena.auto_enter_agents")
def auto_enter_agents() -> list[int]:
    return [e.pk for e in auto_enter()]


# Periodic work for ``celery worker --beat`` (``manage.py serve`` starts one). Kept here next to
# the tasks; settings may override with CELERY_BEAT_SCHEDULE.


@shared_task(name="arena.refit_standings", **IDEMPOTENT)
def refit_standings() -> list[str]:
    """Every 10 minutes (beat): refit the standings of the spaces with settled matches their
    last fit did not read. Idempotent: a refit replaces the space's rows whole."""
    return refit_due_spaces()


# Verifiable rollouts: every 5 minutes (beat), recompute a sample of settled rollouts. Named
# ``rollout_*`` so it runs on the rollout queue: the machines that hold the model, computing in
# the dtype of the rollouts it checks (the tolerance is measured per dtype).
@shared_task(name="arena.rollout_audit")
def rollout_audit() -> dict:
    return audit_sample().as_dict()
