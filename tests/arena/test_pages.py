"""Pages: spaces, entering and leaving, the match page and its live updates, agents."""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from agents.inference.scripted import use_script
from agents.models import Agent
from arena.models import Entry
from arena.services.matches import match_run_inline
from tests.arena.conftest import balance
from tests.arena.helpers import AGENT_FORM, form_match, sum_answer


def test_it_lists_spaces_and_shows_one_with_its_leaderboard(
    client, players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    with use_script(sum_answer):
        match_run_inline(match_id=match.pk)
    assert space.title in client.get("/spaces/").content.decode()
    page = client.get(f"/spaces/{space.slug}/").content.decode()
    assert 'data-testid="leaderboard"' in page and "alice" in page
    assert f"/matches/{match.pk}/" in page
    assert "/ws/spaces/math/" in page


def test_it_enters_and_leaves_from_the_space_page(client, players, space, tier, agent_factory):
    alice = players[0]
    agent = agent_factory(alice, name="Pagey")
    client.force_login(alice)
    page = client.get(f"/spaces/{space.slug}/").content.decode()
    assert "Pagey" in page and 'data-testid="enter-form"' in page
    r = client.post(
        f"/spaces/{space.slug}/enter/", {"agent": agent.pk, "fee_tier": tier.pk, "key": "web:1"}
    )
    assert r.status_code == 302
    entry = Entry.objects.get()
    assert entry.status == "queued" and balance(alice) == 9_900
    r = client.post(f"/entries/{entry.pk}/leave/")
    assert r.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "left" and balance(alice) == 10_000


def test_it_refuses_an_entry_with_someone_elses_agent(client, players, space, tier, agent_factory):
    alice, bob, _ = players
    client.force_login(bob)
    r = client.post(
        f"/spaces/{space.slug}/enter/",
        {"agent": agent_factory(alice).pk, "fee_tier": tier.pk, "key": "web:2"},
        follow=True,
    )
    assert Entry.objects.count() == 0
    assert "agent" in r.content.decode()


def test_it_shows_the_match_page_and_its_fragment(client, players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    page = client.get(f"/matches/{match.pk}/").content.decode()
    assert "formed" in page and f"/ws/matches/{match.pk}/" in page and "match_live.js" in page
    with use_script(sum_answer):
        match_run_inline(match_id=match.pk)
    body = client.get(f"/matches/{match.pk}/body/").content.decode()
    assert "settled" in body and "126" in body and "What is" in body
    assert client.get("/matches/999999/").status_code == 404


def listen_while(path: str, action, until):
    """Connect a websocket client to ``path``, run ``action()`` on another thread (as a worker
    would, with its own database connection), and collect the messages until ``until(messages,
    result)`` holds. Returns (action's result, messages)."""
    from django.db import connection

    from arena.asgi import application

    def run():
        try:
            return action()
        finally:
            connection.close()

    async def scenario():
        comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
        connected, _ = await comm.connect()
        assert connected
        result = await asyncio.to_thread(run)
        messages = []
        while not until(messages, result):
            messages.append(await comm.receive_json_from(timeout=10))
        await comm.disconnect()
        return result, messages

    return asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_it_pushes_each_state_change_to_the_match_socket(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)

    def run_match():
        with use_script(sum_answer):
            match_run_inline(match_id=match.pk)

    _, messages = listen_while(
        f"/ws/matches/{match.pk}/",
        run_match,
        until=lambda seen, _: (
            seen
            and seen[-1]["event"] == "match.state"
            and seen[-1]["payload"]["status"] == "settled"
        ),
    )
    # The socket also carries the answers as they stream in (seat.progress); the states in order:
    seen = [m["payload"]["status"] for m in messages if m["event"] == "match.state"]
    assert seen == ["rolling_out", "judging", "settling", "settled"]


@pytest.mark.django_db(transaction=True)
def test_it_pushes_queue_and_match_events_to_the_space_socket(players, space, tier, agent_factory):
    """The space page's socket hears entries join the queue, the match form, and each of its
    states; a second match, cancelled, is heard too."""
    from arena.services.aborts import match_cancel

    alice, bob, dave = players

    def play_one_and_cancel_one():
        first = form_match(space, tier, [alice, bob], agent_factory)
        with use_script(sum_answer):
            match_run_inline(match_id=first.pk)
        second = form_match(space, tier, [bob, dave], agent_factory)
        match_cancel(match_id=second.pk, reason="creator paused the space")
        return first.pk, second.pk

    def event(message):
        payload = message["payload"]
        return (message["event"], payload.get("match"), payload["status"])

    (first, second), messages = listen_while(
        f"/ws/spaces/{space.slug}/",
        play_one_and_cancel_one,
        until=lambda seen, ids: seen and event(seen[-1]) == ("match.state", ids[1], "cancelled"),
    )
    seen = [event(message) for message in messages]
    assert [e for e in seen if e[0] == "match.state" and e[1] == first] == [
        ("match.state", first, status)
        for status in ("formed", "rolling_out", "judging", "settling", "settled")
    ]
    assert [e for e in seen if e[0] == "match.state" and e[1] == second] == [
        ("match.state", second, "formed"),
        ("match.state", second, "cancelled"),
    ]
    assert sum(1 for e in seen if e[0] == "entry.queued") == 4


def test_it_lists_creates_edits_and_forks_agents(client, alice, mallory, tiny_base):
    client.force_login(alice)
    bad = client.post("/agents/new/", {**AGENT_FORM, "temperature": "9"})
    assert bad.status_code == 200 and Agent.objects.count() == 0
    r = client.post("/agents/new/", AGENT_FORM)
    assert r.status_code == 302, r.content.decode()[:2000]
    agent = Agent.objects.get(name="Scout")
    assert agent.current_adapter is not None and agent.owner == alice
    assert "Scout" in client.get("/agents/").content.decode()
    r = client.post(f"/agents/{agent.pk}/edit/", {**AGENT_FORM, "temperature": "0.2"})
    assert r.status_code == 302
    agent.refresh_from_db()
    assert agent.temperature == 0.2
    r = client.post(f"/agents/{agent.pk}/fork/", {"name": "Scout II"})
    fork = Agent.objects.get(name="Scout II")
    assert (
        fork.forked_from_id == agent.pk
        and fork.current_adapter.sha256 == agent.current_adapter.sha256
    )
    owner_page = client.get(f"/agents/{agent.pk}/").content.decode()
    assert 'data-testid="agent-edit"' in owner_page and 'data-testid="fork-form"' in owner_page

    # Another player sees the agent's public page: its record, read-only, without the prompt.
    client.force_login(mallory)
    response = client.get(f"/agents/{agent.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Scout" in page and "by alice" in page
    assert "Be brief." not in page and 'data-testid="prompt-private"' in page
    assert 'data-testid="agent-edit"' not in page and f"/agents/{agent.pk}/edit/" not in page
    assert 'data-testid="fork-form"' not in page and f"/agents/{agent.pk}/fork/" not in page
    assert client.get(f"/agents/{agent.pk}/edit/").status_code == 404
    assert client.post(f"/agents/{agent.pk}/fork/", {"name": "Stolen"}).status_code == 404
    assert not Agent.objects.filter(name="Stolen").exists()

    # Once the owner shares the prompt, others read it; the controls stay the owner's.
    client.force_login(alice)
    r = client.post(
        f"/agents/{agent.pk}/edit/", {**AGENT_FORM, "temperature": "0.2", "share_prompt": "on"}
    )
    assert r.status_code == 302
    client.force_login(mallory)
    page = client.get(f"/agents/{agent.pk}/").content.decode()
    assert 'data-testid="agent-prompt"' in page and "Be brief." in page
    assert 'data-testid="agent-edit"' not in page and 'data-testid="fork-form"' not in page


def test_it_lists_open_spaces_on_the_home_page(client, space):
    page = client.get("/").content.decode()
    assert "Open spaces" in page and f"/spaces/{space.slug}/" in page
