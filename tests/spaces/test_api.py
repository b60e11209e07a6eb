"""API: spaces list and detail."""

from __future__ import annotations

import pytest

from spaces.services import prompt_create, space_set_status
from tests.spaces.conftest import make_space

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]


@pytest.fixture
def open_math(math_space):
    prompt_create(space=math_space, text="What is 6 * 7?", reference="42", split="train")
    prompt_create(space=math_space, text="Secret: 3 * 3?", reference="9", split="heldout")
    return space_set_status(space=math_space, status="open")


def test_it_lists_spaces_past_draft(client, open_math, dave):
    make_space(dave, "daves-draft")
    body = client.get("/api/v1/spaces/").json()
    assert [s["slug"] for s in body["results"]] == ["math"]
    assert body["results"][0]["creator"] == "carol"
    assert client.get("/api/v1/spaces/?status=paused").json()["results"] == []


def test_it_shows_a_space_without_its_prompts(client, open_math):
    body = client.get("/api/v1/spaces/math/").json()
    assert body["payout_shares"] == ["0.6", "0.3", "0.1"]
    assert body["judge_panel"] == [{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}]
    assert body["rules"]["answer_format"] == "number"
    assert [(t["name"], t["fee"]) for t in body["fee_tiers"]] == [("free", 0), ("pro", 100)]
    assert body["prompts"] == {"train": 1, "heldout": 1}
    assert "Secret" not in str(body) and "42" not in str(body["prompts"])


def test_it_hides_a_draft_from_others(client, dave):
    make_space(dave, "daves-draft")
    assert client.get("/api/v1/spaces/daves-draft/").status_code == 404
    client.force_login(dave)
    assert client.get("/api/v1/spaces/daves-draft/").status_code == 200
