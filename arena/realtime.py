"""Pushing live events to browsers.

Every state change that a browser may watch goes through :func:`publish`, which sends to a
Channels group over the channel layer (Redis, embedded or not). Because the layer is Redis, code
running in a Celery worker process reaches websocket clients connected to the web process.
Group names are part of the contract (docs/interfaces.md): ``match_<id>``, ``space_<slug>`` and
``agent_<id>`` (training progress, for the agent's owner).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def match_group(match_id: int) -> str:
    return f"match_{match_id}"


def space_group(slug: str) -> str:
    return f"space_{slug}"


_in_flight: set[asyncio.Task] = set()  # strong references until done (asyncio keeps weak ones)


def publish(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send now. Failure to publish is logged, never raised: live updates are best effort,
    the database is the source of truth and pages re-read it on connect."""
    message = {"type": "arena.event", "event": event, "payload": payload}
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is None:
            async_to_sync(get_channel_layer().group_send)(group, message)
        else:
            # Sync code on a thread that runs an event loop (async_to_sync would refuse): the
            # send cannot be awaited here without blocking that loop, so it is scheduled on it.
            task = loop.create_task(get_channel_layer().group_send(group, message))
            _in_flight.add(task)
            task.add_done_callback(lambda t: _finished(t, group, event))
    except Exception:  # noqa: BLE001 - a dead channel layer must not fail a settlement
        logger.exception("could not publish %s to %s", event, group)


def _finished(task: asyncio.Task, group: str, event: str) -> None:
    _in_flight.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("could not publish %s to %s", event, group, exc_info=task.exception())


def publish_on_commit(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send once the surrounding transaction commits, so nobody sees a state that rolled back."""
    transaction.on_commit(lambda: publish(group, event, payload))


# --- training: an agent's jobs, for its owner's page (the AgentConsumer admits only them) -------


def agent_group(agent_id: int) -> str:
    return f"agent_{agent_id}"


def _finite(value: Any) -> float | None:
    """A metric as JSON can carry it (a browser's JSON.parse refuses NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def publish_training_progress(job, row: dict[str, Any]) -> None:
    """``agents.hooks`` progress callback: after every optimizer step of a job (outside any
    transaction), ``training.progress`` to the agent's group."""
    publish(
        agent_group(job.agent_id),
        "training.progress",
        {
            "job": job.pk,
            "step": row.get("step"),
            "total_steps": job.total_steps,
            "loss": _finite(row.get("loss")),
            "margin": _finite(row.get("rewards/margins")),
        },
    )


def publish_training_finished(job) -> None:
    """``agents.hooks`` callback for a job that has ended (succeeded, failed or cancelled; it
    runs inside the transaction that records the end): ``training.finished`` with the job's
    status once that commits, so an end that rolled back is never announced."""
    publish_on_commit(
        agent_group(job.agent_id),
        "training.finished",
        {
            "job": job.pk,
            "status": job.status,
            "version": job.result.number if job.result_id else None,
        },
    )
