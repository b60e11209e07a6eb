"""The public agent page and the revisions API: anyone sees an agent's record; its prompt only
when the owner shares it; only the owner gets the controls."""

from __future__ import annotations

import pytest

from agents.revisions import revision_record
from agents.services import agent_update
from tests.arena.test_revision_stats import play

pytestmark = pytest.mark.django_db

SECRET = "Think step by step, then answer with the number only."


@pytest.fixture
def scout(players, agent_factory):
    alice = players[0]
    agent = agent_factory(alice, "scout", system_prompt=SECRET)
    revision_record(agent, by=alice)  # r1, as agent_create records it
    agent_update(agent=agent, by=alice, system_prompt=SECRET + " ", note="spacing")
    return agent


def test_a_stranger_sees_the_record_but_not_a_private_prompt(client, players, scout):
    bob = players[1]
    client.force_login(bob)
    response = client.get(f"/agents/{scout.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "scout" in html and 'data-testid="revisions"' in html
    assert SECRET not in html
    assert 'data-testid="prompt-private"' in html
    assert "(not shared)" in html  # the prompt change is listed, its text is not
    # No controls of the owner's: no edit link, no fork form, no training section.
    assert f"/agents/{scout.pk}/edit/" not in html
    assert 'data-testid="fork-form"' not in html and "agent-section" not in html
    assert response.context["sections"] == []


def test_anonymous_visitors_see_the_public_page_too(client, scout):
    response = client.get(f"/agents/{scout.pk}/")
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_a_shared_prompt_shows_to_others_with_its_history(client, players, scout):
    alice, bob, _ = players
    agent_update(agent=scout, by=alice, share_prompt=True)
    client.force_login(bob)
    html = client.get(f"/agents/{scout.pk}/").content.decode()
    assert SECRET in html and "(not shared)" not in html


def test_the_owner_sees_the_prompt_and_the_controls(client, players, scout):
    client.force_login(players[0])
    html = client.get(f"/agents/{scout.pk}/").content.decode()
    assert SECRET in html
    assert f"/agents/{scout.pk}/edit/" in html and 'data-testid="fork-form"' in html


def test_others_cannot_edit_or_fork(client, players, scout):
    client.force_login(players[1])
    assert client.get(f"/agents/{scout.pk}/edit/").status_code == 404
    assert client.post(f"/agents/{scout.pk}/fork/", {"name": "mine"}).status_code == 404
    assert client.get("/agents/999999/").status_code == 404


def test_the_page_compares_revisions_and_refuses_an_unknown_one(client, players, scout):
    client.force_login(players[0])
    html = client.get(f"/agents/{scout.pk}/?from=1&to=2").content.decode()
    assert 'data-testid="compare-result"' in html and "System prompt" in html
    html = client.get(f"/agents/{scout.pk}/?from=1&to=abc").content.decode()
    assert "This agent has no revision “abc” to compare." in html


def test_the_page_shows_per_revision_stats_and_chart_data(
    client, players, space, tier, scout, agent_factory
):
    rival = agent_factory(players[1], "rival")
    play(space, tier, [scout, rival])
    client.force_login(players[1])
    response = client.get(f"/agents/{scout.pk}/")
    html = response.content.decode()
    assert 'data-testid="revision-stats"' in html and "100% [21%, 100%]" in html
    assert 'id="rating-charts"' in html and 'data-testid="rating-chart"' in html
    [chart] = response.context["charts"]
    assert chart["boundaries"] == [{"index": 0, "label": "r2"}]


def test_the_revisions_api_hides_a_private_prompt_from_others(client, players, scout):
    alice, bob, _ = players
    client.force_login(bob)
    response = client.get(f"/api/v1/agents/{scout.pk}/revisions/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["number"] for r in rows] == [2, 1]
    assert rows[0]["note"] == "spacing" and rows[0]["created_by"] == "alice"
    assert all(r["config"]["system_prompt"] is None for r in rows)
    assert rows[0]["config"]["top_k"] == scout.top_k
    # The detail endpoint stays the owner's: another player's agent is a 404 there.
    assert client.get(f"/api/v1/agents/{scout.pk}/").status_code == 404
    client.force_login(alice)
    rows = client.get(f"/api/v1/agents/{scout.pk}/revisions/").json()["results"]
    assert rows[0]["config"]["system_prompt"] == SECRET + " "


def test_the_revision_stats_api(client, players, space, tier, scout, agent_factory):
    rival = agent_factory(players[1], "rival")
    play(space, tier, [scout, rival])
    client.force_login(players[1])
    [row] = client.get(f"/api/v1/agents/{scout.pk}/revision-stats/").json()
    assert row["space"] == space.slug and row["comparison"] is None
    [stats] = row["revisions"]
    assert stats["revision"] == 2 and stats["matches"] == 1 and stats["net_credits"] == 26
    assert len(row["rating_history"]) == 1
    assert client.get("/api/v1/agents/999999/revision-stats/").status_code == 404


def test_the_form_is_grouped_with_ranges_and_names_the_field_in_errors(client, players, space):
    from tests.arena.helpers import AGENT_FORM

    client.force_login(players[0])
    html = client.get("/agents/new/").content.decode()
    for legend in ("Prompt", "Generation", "Training", "Automation"):
        assert f"<legend>{legend}</legend>" in html
    assert "From 0 to 2. Sampling randomness" in html  # temperature's range and meaning
    assert "Above 0, up to 0.01." in html  # the learning rate's open lower end
    assert f"{space.title}: 100 credits (standard)" in html and f"{space.title}: free" in html
    response = client.post("/agents/new/", {**AGENT_FORM, "temperature": "3"})
    assert response.context["form"].errors == {
        "temperature": ["Temperature must be from 0 to 2; 3 is not."]
    }
    assert 'href="#id_temperature">Temperature</a>' in response.content.decode()


def test_editing_with_a_note_records_it_on_the_new_revision(client, players, scout):
    from tests.arena.helpers import AGENT_FORM

    client.force_login(players[0])
    # The adapter's shape as it is (a new shape would build a new adapter from the base model).
    shape = {"lora_rank": "8", "lora_alpha": "16", "lora_dropout": "0.05"}
    form = {**AGENT_FORM, **shape, "name": "scout", "note": "lower temperature"}
    response = client.post(f"/agents/{scout.pk}/edit/", form)
    assert response.status_code == 302
    latest = scout.revisions.order_by("-number").first()
    assert latest.number == 3 and latest.note == "lower temperature"
    assert latest.config["temperature"] == 0.5
    html = client.get(f"/agents/{scout.pk}/").content.decode()
    assert "lower temperature" in html and "<del>0.7</del>" in html
