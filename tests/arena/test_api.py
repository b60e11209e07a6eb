"""The REST API of entries, matches and leaderboards."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agents.inference.scripted import use_script
from arena.models import Entry
from arena.services.matches import match_run_inline
from tests.arena.conftest import balance
from tests.arena.helpers import form_match, sum_answer


@pytest.fixture
def api():
    return APIClient()


def enter(api, agent, space, tier="standard", key="k1"):
    return api.post(
        "/api/v1/entries/",
        {"agent": agent.pk, "space": space.slug, "fee_tier": tier, "key": key},
        format="json",
    )


def test_it_enters_and_replays_an_entry_by_key(api, players, space, agent_factory):
    alice = players[0]
    agent = agent_factory(alice)
    api.force_authenticate(alice)
    first = enter(api, agent, space)
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "queued" and first.json()["fee"] == 100
    again = enter(api, agent, space)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert balance(alice) == 9_900
    listed = api.get("/api/v1/entries/").json()
    assert [e["id"] for e in listed] == [first.json()["id"]]


def test_it_leaves_the_queue_and_returns_the_fee(api, players, space, agent_factory):
    alice = players[0]
    api.force_authenticate(alice)
    entry_id = enter(api, agent_factory(alice), space).json()["id"]
    left = api.post(f"/api/v1/entries/{entry_id}/leave/")
    assert left.status_code == 200 and left.json()["status"] == "left"
    assert balance(alice) == 10_000


def test_it_refuses_bad_entries_and_changes_nothing(api, players, mallory, space, agent_factory):
    alice = players[0]
    agent = agent_factory(alice)
    assert enter(api, agent, space).status_code in (401, 403)
    api.force_authenticate(mallory)
    assert enter(api, agent, space).status_code == 404  # not mallory's agent
    api.force_authenticate(alice)
    assert enter(api, agent, space, tier="gold").status_code == 400
    r = api.post("/api/v1/entries/", {"agent": agent.pk, "space": space.slug}, format="json")
    assert r.status_code == 400 and "fee_tier" in r.json()
    broke = agent_factory(mallory)
    api.force_authenticate(mallory)
    r = enter(api, broke, space)
    assert r.status_code == 400 and "fee" in r.json()["detail"]
    assert Entry.objects.count() == 0 and balance(alice) == 10_000


def test_it_refuses_to_leave_someone_elses_or_a_matched_entry(
    api, players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    entry = match.entries.get(owner=alice)
    api.force_authenticate(bob)
    assert api.post(f"/api/v1/entries/{entry.pk}/leave/").status_code == 404
    api.force_authenticate(alice)
    r = api.post(f"/api/v1/entries/{entry.pk}/leave/")
    assert r.status_code == 400 and "matched" in r.json()["detail"]


def test_it_shows_a_match_with_prompt_answers_verdicts_and_payouts(
    api, players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    with use_script(sum_answer):
        match_run_inline(match_id=match.pk)
    data = api.get(f"/api/v1/matches/{match.pk}/").json()
    assert data["status"] == "settled"
    assert data["prompt"]["text"].startswith("What is")
    assert [s["payout"] for s in sorted(data["seats"], key=lambda s: s["rank"])] == [126, 54]
    assert all(s["text"] for s in data["seats"]) and data["verdicts"]
    assert data["pot"] == 200 and data["timings"]["total"] is not None

    board = api.get(f"/api/v1/spaces/{space.slug}/leaderboard/").json()
    assert [row["owner"] for row in board] == ["alice", "bob"]
    assert board[0]["winnings"] == 126
    matches = api.get(f"/api/v1/spaces/{space.slug}/matches/").json()
    assert matches[0]["id"] == match.pk


def test_it_hides_held_out_prompts(api, players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    match.prompt.__class__.objects.filter(pk=match.prompt_id).update(split="heldout")
    assert api.get(f"/api/v1/matches/{match.pk}/").json()["prompt"] is None


def test_it_publishes_the_schema(api, db):
    r = api.get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/entries/" in r.content and b"/api/v1/matches/{id}/" in r.content
