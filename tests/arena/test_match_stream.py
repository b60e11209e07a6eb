"""While a match rolls out, each seat's answer so far goes to the match's channel group
(``seat.progress``), throttled, and a channel layer that fails never fails the rollout."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import connection

from agents.inference import RowProgress
from agents.inference.scripted import use_script
from arena import realtime
from arena.models import Match
from arena.realtime import match_group
from arena.services import events
from arena.services.events import SeatProgressPublisher
from arena.services.matches import match_rollout
from tests.arena.helpers import form_match

ANSWERS = [
    "The sum is 4 and I checked it twice with my fingers",
    "Five, I think, or maybe not",
]


def collect_while(group: str, action, quiet_s: float = 1.5) -> tuple[object, list[dict]]:
    """Subscribe a channel to ``group``, run ``action()`` on another thread (a worker's place,
    with its own database connection), then read what arrived until ``quiet_s`` of silence."""

    def run():
        try:
            return action()
        finally:
            connection.close()

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        result = await asyncio.to_thread(run)
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), quiet_s))
            except TimeoutError:
                break
        await layer.group_discard(group, channel)
        return result, messages

    return asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_the_rollout_streams_each_seat_to_the_match_group(
    players, space, tier, agent_factory, settings
):
    settings.ARENA_STREAM_EVERY_TOKENS = 3
    settings.ARENA_SCRIPTED_STREAM_DELAY_S = 0.3  # > the publisher's 0.25 s throttle
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)

    def rollout():
        with use_script(ANSWERS):
            return match_rollout(match_id=match.pk)

    done, messages = collect_while(match_group(match.pk), rollout)
    assert done is True
    events_seen = [(m["event"], m["payload"].get("status")) for m in messages]
    assert events_seen[0] == ("match.state", "rolling_out")
    assert events_seen[-1] == ("match.state", "judging")
    progress = [m["payload"] for m in messages if m["event"] == "seat.progress"]
    limits = dict(match.seats.values_list("index", "generation_settings__max_new_tokens"))
    for seat, answer in enumerate(ANSWERS):
        mine = [p for p in progress if p["seat"] == seat]
        words = answer.split()
        assert len(mine) >= 2, f"seat {seat} streamed in one piece"
        assert [p["text"] for p in mine[:-1]] == [
            " ".join(words[: 3 * (n + 1)]) for n in range(len(mine) - 1)
        ]
        assert mine[-1] == {
            "match": match.pk,
            "seat": seat,
            "text": " ".join(words[: limits[seat]]),
            "tokens": min(len(words), limits[seat]),
            "max_new_tokens": limits[seat],
            "done": True,
        }
        assert [p["tokens"] for p in mine] == sorted(p["tokens"] for p in mine)


@pytest.mark.django_db(transaction=True)
def test_a_failing_channel_layer_never_fails_the_rollout(
    players, space, tier, agent_factory, settings, monkeypatch
):
    settings.ARENA_STREAM_EVERY_TOKENS = 1
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    sends = []

    class BrokenLayer:
        async def group_send(self, group, message):
            sends.append(message["event"])
            raise ConnectionError("redis went away")

    monkeypatch.setattr(realtime, "get_channel_layer", lambda: BrokenLayer())
    with use_script(ANSWERS):
        assert match_rollout(match_id=match.pk) is True
    match.refresh_from_db()
    assert match.status == Match.Status.JUDGING
    assert list(match.seats.order_by("index").values_list("completion_tokens", flat=True)) == [
        len(ANSWERS[0].split()),
        len(ANSWERS[1].split()),
    ]
    assert "seat.progress" in sends and "match.state" in sends


def test_the_publisher_throttles_each_seat_but_always_sends_its_end(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish", lambda group, event, payload: sent.append(payload))
    now = [100.0]
    publisher = SeatProgressPublisher(match_id=7, max_new_tokens=[10, 10], clock=lambda: now[0])

    def call(*rows):
        publisher([RowProgress(text=t, tokens=n, done=d) for t, n, d in rows])

    call(("a", 1, False), ("x", 1, False))
    now[0] += 0.1  # too soon for more of either seat...
    call(("a b", 2, False), ("x y", 2, True))  # ...but seat 1 has ended: its end goes
    now[0] += 0.3
    call(("a b c", 3, False), ("x y", 2, True))  # seat 1 done and sent: never again
    call(("a b c", 3, False), ("x y", 2, True))  # nothing new
    assert [(p["seat"], p["text"], p["done"]) for p in sent] == [
        (0, "a", False),
        (1, "x", False),
        (1, "x y", True),
        (0, "a b c", False),
    ]
    assert all(p["match"] == 7 and p["max_new_tokens"] == 10 for p in sent)


def test_the_publisher_swallows_what_the_layer_raises(monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(events, "publish", broken)
    publisher = SeatProgressPublisher(match_id=1, max_new_tokens=[5])
    publisher([RowProgress(text="hi", tokens=1)])  # no exception
    assert publisher.published == 0
