"""Agent form errors name the field in words, once (found: a duplicate agent name showed
"__all__: ..." on fork and the same error twice on create)."""

from __future__ import annotations

import re

import pytest

from agents.models import Agent, BaseModel
from tests.arena.helpers import AGENT_FORM

pytestmark = pytest.mark.django_db

TAKEN = "You already have an agent named “Scout”."


@pytest.fixture
def scout(alice):
    # The service refuses a taken name before it builds an adapter, so no model is needed.
    base = BaseModel.objects.create(name="tiny", path="/nonexistent/tiny", is_default=True)
    return Agent.objects.create(
        owner=alice, base_model=base, name="Scout", target_modules=["q_proj", "v_proj"]
    )


def assert_one_name_error(html: str) -> None:
    """The message appears once, in the error list right before the name input."""
    assert html.count("You already have an agent named") == 1, html
    assert TAKEN in html
    assert "__all__" not in html and "name:" not in html
    errors_then_input = re.search(
        r'<ul class="errorlist"[^>]*>\s*<li>[^<]*already have an agent named[^<]*</li>\s*</ul>'
        r'\s*<p>\s*<label for="id_name">.*?<input[^>]*name="name"',
        html,
        re.S,
    )
    assert errors_then_input, html


def test_it_shows_a_taken_name_once_on_the_name_field_when_creating(client, alice, scout):
    client.force_login(alice)
    response = client.post("/agents/new/", AGENT_FORM)
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": [TAKEN]}
    assert response.context["form"].non_field_errors() == []
    assert_one_name_error(response.content.decode())
    assert Agent.objects.count() == 1


def test_it_shows_a_taken_name_once_on_the_fork_form(client, alice, scout):
    other = Agent.objects.create(
        owner=alice, base_model=scout.base_model, name="Ranger", target_modules=["q_proj"]
    )
    client.force_login(alice)
    response = client.post(f"/agents/{other.pk}/fork/", {"name": "Scout"})
    assert response.status_code == 200  # the agent's page again, with the fork form's error
    assert response.context["fork_form"].errors == {"name": [TAKEN]}
    html = response.content.decode()
    assert_one_name_error(html)
    assert 'value="Scout"' in html  # what was typed stays in the field
    assert Agent.objects.count() == 2


def test_it_shows_a_taken_name_once_on_the_name_field_when_renaming(client, alice, scout):
    other = Agent.objects.create(
        owner=alice, base_model=scout.base_model, name="Ranger", target_modules=["q_proj"]
    )
    client.force_login(alice)
    response = client.post(f"/agents/{other.pk}/edit/", AGENT_FORM)
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": [TAKEN]}
    assert_one_name_error(response.content.decode())
    other.refresh_from_db()
    assert other.name == "Ranger"


def test_it_lets_another_player_use_the_same_name(bob, scout):
    from agents.services import agent_update

    other = Agent.objects.create(
        owner=bob, base_model=scout.base_model, name="Ranger", target_modules=["q_proj"]
    )
    assert agent_update(agent=other, by=bob, name="Scout").name == "Scout"
