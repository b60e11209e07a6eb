"""A player trains an agent in the browser: the agent page's training section shows the new
pairs and the price, "Train now" queues a job, the job's progress arrives live (websocket, with
polling behind it), and the version history then shows the new version with its gate result.

The page is served by a real ASGI server (daphne, another process); the job and the gate run in
a thread of the test process, as the ``train`` and ``judge`` workers would run them (Playwright's
sync API keeps an event loop on the test's own thread, where publishing must not run).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections

from agents.inference.scripted import use_script
from agents.models import TrainingJob
from agents.training_jobs import job_run
from arena.services import dispatch
from learning.gate import gate_run
from spaces.services import prompt_create
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser


def off_the_page_thread(step, *args, **kwargs):
    """Run ``step`` on a fresh thread, with nothing queued for workers (the test runs it all)."""

    def run():
        try:
            with dispatch.inline():
                return step(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=300)


@pytest.fixture
def server_settings(monkeypatch):
    """The web process's training settings, as the tests' own (tests/learning/conftest.py)."""
    for name, value in {
        "ARENA_TRAINING_PRICE": "7",
        "ARENA_TRAINING_MAX_STEPS": "2",
        "ARENA_TRAINING_MAX_LENGTH": "128",
        "ARENA_TRAINING_CHECKPOINT_EVERY": "1",
    }.items():
        monkeypatch.setenv(name, value)


def candidate_right(request, index):
    """The new version answers held-out sums right; the base model (no adapter) wrong."""
    a = int(request.messages[-1]["content"].split()[2])
    return str(a + 1) if request.adapter is not None else str(a + 3)


def test_a_player_trains_an_agent_and_sees_the_curves_and_the_gate(server_settings, trainee, page):
    for a in range(5, 9):
        prompt_create(
            space=trainee.space, text=f"What is {a} + 1?", reference=str(a + 1), split="heldout"
        )
    settings.ARENA_GATE_GAMES = 8  # the test process plays the gate

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pass-123")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")

    page.goto(f"/agents/{trainee.pk}/")
    section = page.locator("[data-testid=training-section]")
    assert "4 new kept pairs" in section.locator("[data-testid=new-pairs]").inner_text()
    assert "7 credits" in section.locator("[data-testid=train-now]").inner_text()
    page.wait_for_selector("[data-training-ws][data-live-connected=true]", state="attached")

    page.click("[data-testid=train-now]")
    page.wait_for_selector("[data-testid=training-notice]")
    page.wait_for_selector("[data-testid=training-job][data-status=queued]")
    job = TrainingJob.objects.get()
    assert (job.status, job.price, job.pair_count) == ("queued", 7, 4)

    finished = off_the_page_thread(job_run, job_id=job.pk)
    assert finished.status == "succeeded", finished.error
    # the progress events and the end arrive over the socket; the section re-fetches itself
    page.wait_for_selector(
        f"[data-testid=training-job][data-job='{job.pk}'][data-status=succeeded]"
    )
    assert "step 2 of 2" in page.locator("[data-testid=training-job]").inner_text()
    page.wait_for_selector("[data-testid=loss-chart][data-drawn]:not([data-drawn=pending])")
    page.wait_for_selector("[data-testid=margin-chart][data-drawn]:not([data-drawn=pending])")
    assert "queued" in page.locator("[data-testid=gate]").inner_text()

    with use_script(candidate_right):
        gate = off_the_page_thread(gate_run, job=finished)
    assert gate.status == "passed"
    # no event for a gate: the section polls while it is queued
    page.wait_for_function(
        "document.querySelector('[data-testid=gate]').innerText.includes('8W/0L/0T')",
        timeout=40_000,
    )
    row = page.locator("[data-testid=version]").first
    assert "live" in row.inner_text() and "passed" in row.inner_text()
    assert "win rate 1.00" in row.inner_text()
    snap(page, "training-agent")
    assert_accessible(page)

    row.locator("[data-testid=proof-link]").click()
    page.wait_for_selector("[data-testid=proof-status]")
    assert page.locator("[data-testid=proof-status]").inner_text() == "VERIFIED"
    assert finished.result.sha256 in page.locator("[data-testid=adapter-sha]").inner_text()
    snap(page, "training-proof-record")
    assert_accessible(page)
