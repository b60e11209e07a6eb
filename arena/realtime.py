"""Pushing live events to browsers.

Every state change that a browser may watch goes through :func:`publish`, which sends to a
Channels group over the channel layer (Redis, embedded or not). Because the layer is Redis, code
running in a Celery worker process reaches websocket clients connected to the web process.
Group names are part of the contract (docs/interfaces.md): ``match_<id>`` and ``space_<slug>``.
"""

from __future__ import annotations

import asyncio
import logging
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
