"""Handing the next step of a match to Celery, once the transaction that made it possible commits.

One table maps a match's status to the task that does its next step. Tasks are looked up by name
in Celery's registry, so the services never import ``arena.tasks`` (which imports them).

``inline()`` turns enqueueing off for the current thread: the ``play`` command and the tests
drive the steps themselves by calling the task functions in order, so nothing waits in a broker
queue for a worker that does not exist.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from celery import current_app
from django.db import transaction

_local = threading.local()

# status -> the task that moves a match on from it. A rollout that is "rolling_out" with no lease
# (handed back by the reaper) is claimed again by the same task.
STEP_TASKS = {
    "formed": "arena.rollout_match",
    "rolling_out": "arena.rollout_match",
    "judging": "arena.judge_match",
    "settling": "arena.settle_match",
}


@contextlib.contextmanager
def inline(enabled: bool = True) -> Iterator[None]:
    """Within the block, steps are not queued (``enabled``), or are queued again (``False``:
    a test of the queueing itself inside an inline test)."""
    previous = getattr(_local, "inline", False)
    _local.inline = enabled
    try:
        yield
    finally:
        _local.inline = previous


def is_inline() -> bool:
    return getattr(_local, "inline", False)


def step_task(status: str):
    """The registered Celery task that does the step a match in ``status`` waits for, or None
    when the match waits for nothing (it is final)."""
    name = STEP_TASKS.get(status)
    return current_app.tasks[name] if name else None


def enqueue_step(*, match_id: int, status: str, countdown: float | None = None) -> None:
    """Queue the task that does the step a match in ``status`` waits for, on commit; with
    ``countdown``, not before that many seconds (a retry's back-off)."""
    if is_inline() or status not in STEP_TASKS:
        return

    def send() -> None:
        # apply_async on the registered task rather than send_task: with CELERY_TASK_ALWAYS_EAGER
        # the step runs right here, as the embedded tests expect.
        step_task(status).apply_async(args=[match_id], countdown=countdown)

    transaction.on_commit(send)


def enqueue(name: str, *args) -> None:
    """Queue the registered task ``name`` with ``args`` once the current transaction commits
    (a job of another app, e.g. ``agents.train_job``); nothing within ``inline()``, where the
    caller runs it itself."""
    if is_inline():
        return
    transaction.on_commit(lambda: current_app.tasks[name].apply_async(args=list(args)))
