"""Practice runs through the API and the pages (without a browser): queue, read, apply; the
owner only; refusals name the field and store nothing; the agent page gets a practice panel."""

from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from agents.inference.scripted import use_script
from learning.models import PracticeRun
from learning.practice import practice_play
from tests.learning.test_practice import RIGHT, WRONG, by_prompt, math, scout  # noqa: F401


def api_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_draft_is_queued_read_and_applied_through_the_api(alice, scout, math):  # noqa: F811
    api = api_of(alice)
    made = api.post(
        "/api/v1/practice/",
        {"space": "math", "k": 2, "a": f"agent:{scout.pk}", "draft": {"system_prompt": RIGHT}},
        format="json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["status"], body["a"]["label"]) == ("draft", "queued", "the draft")
    assert (
        body["b"]["label"] == "scout (live, r1)" and body["b"]["config"]["system_prompt"] == WRONG
    )
    with use_script(by_prompt):
        practice_play(run_id=body["id"])
    read = api.get(f"/api/v1/practice/{body['id']}/").json()
    assert (read["status"], read["wins"], read["games"]) == ("done", 2, 2)
    assert read["game_list"][0]["outcome"] == "a"
    assert read["game_list"][0]["verdicts"][0].startswith("Judge 1 (verifier) preferred the draft")
    applied = api.post(f"/api/v1/practice/{body['id']}/apply/")
    assert applied.status_code == 200 and applied.json()["applied_revision"] == 2
    again = api.post(f"/api/v1/practice/{body['id']}/apply/")
    assert again.status_code == 400 and "applied already" in again.json()["detail"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"draft": {"top_p": 7}}, "draft.top_p"),
        ({"draft": {"wings": 2}}, "draft"),
        ({"k": 99}, "k"),
        ({"space": "nowhere"}, "space"),
        ({"b": "agent:999999"}, "detail"),
        ({"a": "revision:x"}, "a"),
    ],
)
def test_a_refused_request_names_the_field_and_stores_nothing(alice, scout, math, body, field):  # noqa: F811
    request = {"space": "math", "k": 2, "a": f"agent:{scout.pk}", "draft": {}, **body}
    answer = api_of(alice).post("/api/v1/practice/", request, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not PracticeRun.objects.exists()


def test_nobody_else_reads_or_applies_a_run(alice, bob, scout, math):  # noqa: F811
    run_id = (
        api_of(alice)
        .post(
            "/api/v1/practice/",
            {"space": "math", "k": 1, "a": f"agent:{scout.pk}", "draft": {}},
            format="json",
        )
        .json()["id"]
    )
    assert api_of(bob).get(f"/api/v1/practice/{run_id}/").status_code == 404
    assert api_of(bob).post(f"/api/v1/practice/{run_id}/apply/").status_code == 404
    assert APIClient().get(f"/api/v1/practice/{run_id}/").status_code in (401, 403)


def test_the_schema_documents_the_practice_operations(client):
    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    assert "post" in paths["/api/v1/practice/"]
    assert "get" in paths["/api/v1/practice/{id}/"]
    assert "post" in paths["/api/v1/practice/{id}/apply/"]


def test_the_pages_practise_a_draft_and_apply_it(client, alice, scout, math):  # noqa: F811
    client.force_login(alice)
    panel = client.get(f"/agents/{scout.pk}/practice/panel/")
    assert f'href="/agents/{scout.pk}/practice/"' in panel.content.decode()
    page = client.get(f"/agents/{scout.pk}/practice/").content.decode()
    assert WRONG in page and "Generation" in page
    form = {
        "system_prompt": RIGHT,
        "temperature": "0.7",
        "top_p": "0.95",
        "top_k": "50",
        "max_new_tokens": "128",
        "repetition_penalty": "1.1",
        "space": "math",
        "k": "2",
        "baseline": f"agent:{scout.pk}",
    }
    bad = client.post(f"/agents/{scout.pk}/practice/", {**form, "temperature": "9"})
    assert bad.status_code == 200 and "Temperature" in bad.content.decode()
    assert not PracticeRun.objects.exists()
    made = client.post(f"/agents/{scout.pk}/practice/", form)
    run = PracticeRun.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/practice/{run.pk}/"
    assert 'hx-trigger="every 2s"' in client.get(f"/practice/{run.pk}/live/").content.decode()
    with use_script(by_prompt):
        practice_play(run_id=run.pk)
    shown = client.get(f"/practice/{run.pk}/").content.decode()
    assert "win rate 1.00" in shown and "Apply this draft" in shown and "every 2s" not in shown
    applied = client.post(f"/practice/{run.pk}/apply/")
    assert applied.status_code == 302 and applied["Location"] == f"/agents/{scout.pk}/"
    scout.refresh_from_db()
    assert scout.system_prompt == RIGHT


def test_the_compare_page_plays_two_agents(client, alice, bob, scout, math, agent_factory):  # noqa: F811
    sage = agent_factory(alice, name="sage", system_prompt=RIGHT)
    client.force_login(alice)
    assert "sage (live)" in client.get(f"/agents/compare/?a=agent:{scout.pk}").content.decode()
    same = {"a": f"agent:{sage.pk}", "b": f"agent:{sage.pk}", "space": "math", "k": "2"}
    assert "same configuration" in client.post("/agents/compare/", same).content.decode()
    made = client.post("/agents/compare/", {**same, "b": f"agent:{scout.pk}"})
    assert made.status_code == 302
    assert PracticeRun.objects.get().kind == "agents"
    client.force_login(bob)
    assert client.get(made["Location"]).status_code == 404
