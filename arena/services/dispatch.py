"""Handing the next step of a match to Celery, once the transaction that made it possible commits.

``inline()`` turns enqueueing off for the current thread: the ``play`` command and the tests
drive the steps themselves by calling the task functions in order, so nothing waits in a broker
queue for a worker that does not exist.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.db import transaction

_local = threading.local()

STEP_TASKS = {
    "formed": "arena.rollout_match",
    "rolling_out": "arena.rollout_match",
    "judging": "arena.judge_match",
    "settling": "arena.settle_match",
}


@contextlib.contextmanager
def inline() -> Iterator[None]:
    previous = getattr(_local, "inline", False)
    _local.inline = True
    try:
        yield
    finally:
        _local.inline = previous


def is_inline() -> bool:
    return getattr(_local, "inline", False)


def enqueue_step(*, match_id: int, status: str) -> None:
    """Queue the task that does the step a match in ``status`` waits for, on commit."""
    if is_inline() or status not in STEP_TASKS:
        return
    name = STEP_TASKS[status]

    def send() -> None:
        from arena import tasks

        # apply_async, not send_task: with CELERY_TASK_ALWAYS_EAGER the step runs right here.
        getattr(tasks, name.removeprefix("arena.")).apply_async(args=[match_id])

    transaction.on_commit(send)
