"""Helpers for tests that drive real Celery worker processes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from arena.models import Match
from tests.conftest import WorkerProcess


def start_worker(tmp_path: Path, queues: str = "default,rollout,judge,train") -> WorkerProcess:
    return WorkerProcess(tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log", queues=queues).start()


def wait_for(predicate, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_final(match_id: int, timeout: float = 120) -> Match:
    def final():
        match = Match.objects.get(pk=match_id)
        return match if match.is_final else None

    return wait_for(final, timeout, f"match {match_id} to end")


def wait_status(match_id: int, status: str, timeout: float = 120) -> Match:
    return wait_for(
        lambda: Match.objects.filter(pk=match_id, status=status).first(),
        timeout,
        f"match {match_id} to be {status}",
    )
