"""Live events of the match loop: every state change goes to ``match_<id>`` and ``space_<slug>``
after the transaction that made it commits; while a match rolls out, each seat's answer so far
goes to ``match_<id>`` as ``seat.progress`` (``SeatProgressPublisher``)."""

from __future__ import annotations

import logging
import time

from arena.realtime import match_group, publish, publish_on_commit, space_group

logger = logging.getLogger(__name__)


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


# --- answers streaming in while a match rolls out --------------------------------------------

# At most one push per seat in this many seconds (a row's last push always goes): a fast model
# would otherwise send a websocket message per seat every few milliseconds.
SEAT_PROGRESS_MIN_INTERVAL_S = 0.25


class SeatProgressPublisher:
    """The ``on_progress`` callback ``match_rollout`` hands the backend: ``seat.progress`` to
    the match's group for each seat whose text moved, throttled per seat. Best effort: a channel
    layer that fails or hangs up never fails the rollout (the answers are stored at the end
    whatever happens here), and the text sent is the raw answer so far: hostile, for pages to
    show as text only."""

    def __init__(self, *, match_id: int, max_new_tokens: list[int], clock=time.monotonic):
        self.match_id = match_id
        self.max_new_tokens = max_new_tokens
        self.clock = clock
        self.sent_tokens = [-1] * len(max_new_tokens)
        self.sent_done = [False] * len(max_new_tokens)
        self.sent_at = [float("-inf")] * len(max_new_tokens)
        self.published = 0

    def __call__(self, rows) -> None:
        try:
            self._publish(rows)
        except Exception:  # noqa: BLE001 - live progress must never fail a rollout
            logger.exception("could not publish the progress of match %s", self.match_id)

    def _publish(self, rows) -> None:
        now = self.clock()
        for seat, row in enumerate(rows):
            if self.sent_done[seat] or (
                row.tokens == self.sent_tokens[seat] and row.done == self.sent_done[seat]
            ):
                continue  # nothing new for this seat
            if not row.done and now - self.sent_at[seat] < SEAT_PROGRESS_MIN_INTERVAL_S:
                continue
            publish(
                match_group(self.match_id),
                "seat.progress",
                {
                    "match": self.match_id,
                    "seat": seat,
                    "text": row.text,
                    "tokens": row.tokens,
                    "max_new_tokens": self.max_new_tokens[seat],
                    "done": row.done,
                },
            )
            self.sent_tokens[seat] = row.tokens
            self.sent_done[seat] = row.done
            self.sent_at[seat] = now
            self.published += 1
