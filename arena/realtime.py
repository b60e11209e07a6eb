"""Pushing live events to browsers.

Every state change that a browser may watch goes through :func:`publish`, which sends to a
Channels group over the channel layer (Redis, embedded or not). Because the layer is Redis, code
running in a Celery worker process reaches websocket clients connected to the web process.
Group names are fixed by DESIGN.md: ``match_<id>`` and ``space_<slug>``.
"""

from __future__ import annotations

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


def publish(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send now. Failure to publish is logged, never raised: live updates are best effort,
    the database is the source of truth and pages re-read it on connect."""
    try:
        async_to_sync(get_channel_layer().group_send)(
            group, {"type": "arena.event", "event": event, "payload": payload}
        )
    except Exception:  # noqa: BLE001 - a dead channel layer must not fail a settlement
        logger.exception("could not publish %s to %s", event, group)


def publish_on_commit(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send once the surrounding transaction commits, so nobody sees a state that rolled back."""
    transaction.on_commit(lambda: publish(group, event, payload))
