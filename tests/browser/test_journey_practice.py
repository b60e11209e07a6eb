"""A player practises a draft in the browser: from the agent page's practice panel to the
practice page, edits the draft's prompt, plays it against the live configuration (a real Celery
worker plays the games, the run page follows by polling), reads the games and the win rate,
applies the draft, and the agent page lists the new revision."""

from __future__ import annotations

import pytest

from agents.models import BaseModel
from agents.revisions import revision_record
from learning.models import PracticeRun
from tests.arena.conftest import make_agent, make_space
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser

DRAFT = "Answer with the number only, nothing else."


@pytest.fixture
def scripted_worker(request, monkeypatch):
    """The worker answers with the scripted backend (set before it starts)."""
    monkeypatch.setenv("ARENA_INFERENCE_BACKEND", "scripted")
    return request.getfixturevalue("celery_worker_process")


def test_a_player_practises_a_draft_and_applies_it(page, alice, carol, scripted_worker):
    make_space(carol, slug="sums", prompts=3)
    base = BaseModel.objects.create(name="tiny-test", path="/nonexistent/tiny")
    scout = make_agent(alice, base, "scout", system_prompt="Answer.")
    revision_record(scout, by=alice)

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pass-123")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")

    page.goto(f"/agents/{scout.pk}/")
    page.wait_for_selector("[data-testid=practice-panel]")
    snap(page, "practice-agent-panel")
    assert_accessible(page)
    page.click("[data-testid=practice-link]")

    page.wait_for_selector("[data-testid=practice-form]")
    assert page.input_value("textarea[name=system_prompt]") == "Answer."
    snap(page, "practice-form")
    assert_accessible(page)
    page.fill("textarea[name=system_prompt]", DRAFT)
    page.select_option("select[name=space]", "sums")
    page.fill("input[name=k]", "3")
    page.click("[data-testid=practice-submit]")

    page.wait_for_selector("[data-testid=practice-run]")
    run = PracticeRun.objects.get()
    assert run.a_config["system_prompt"] == DRAFT and run.kind == "draft"
    page.wait_for_selector("[data-testid=practice-run][data-status=done]", timeout=90_000)
    assert page.locator("[data-testid=practice-game]").count() == 3
    summary = page.locator("[data-testid=practice-summary]").inner_text()
    assert summary.startswith("The draft:") and "95% interval" in summary
    assert (
        "Judge 1 (verifier)" in page.locator("[data-testid=practice-verdicts]").first.inner_text()
    )
    snap(page, "practice-run")
    assert_accessible(page)

    page.click("[data-testid=practice-apply]")
    page.wait_for_selector("[data-testid=revision][data-number='2']")
    assert "applied practice run" in page.locator("[data-testid=revision]").first.inner_text()
    scout.refresh_from_db()
    assert scout.system_prompt == DRAFT
    snap(page, "practice-applied")
    assert_accessible(page)
