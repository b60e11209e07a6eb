"""Live events of the match loop: every state change goes to ``match_<id>`` and ``space_<slug>``
after the transaction that made it commits."""

from __future__ import annotations

from arena.realtime import match_group, publish_on_commit, space_group


def publish_match_state(match, **extra) -> None:
    payload = {"match": match.pk, "status": match.status, "space": match.space.slug, **extra}
    publish_on_commit(match_group(match.pk), "match.state", payload)
    publish_on_commit(space_group(match.space.slug), "match.state", payload)


def publish_queue_change(*, space, entry, event: str) -> None:
    publish_on_commit(
        space_group(space.slug),
        event,
        {"entry": entry.pk, "agent": entry.agent_id, "status": entry.status, "space": space.slug},
    )
