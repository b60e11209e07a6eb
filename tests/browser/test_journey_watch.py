"""Watching a match: a player opens the match page while a real Celery worker rolls it out, sees
every seat's answer fill in, side by side with its progress bar, before the match settles, and
then reads how it was decided, in words."""

from __future__ import annotations

import pytest

from arena.models import Match
from arena.services import dispatch
from tests.arena.conftest import agent_factory, base_model, fund, make_space  # noqa: F401
from tests.arena.helpers import form_match
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser

# The worker's scripted backend writes one word per progress event, this long apart: slow
# enough for a browser to see the answers grow before the match moves on.
CHUNK_DELAY_S = "1.2"


@pytest.fixture
def slow_streaming_worker(monkeypatch):
    """The environment the worker process starts with (read before celery_worker_process)."""
    monkeypatch.setenv("ARENA_INFERENCE_BACKEND", "scripted")
    monkeypatch.setenv("ARENA_STREAM_EVERY_TOKENS", "1")
    monkeypatch.setenv("ARENA_SCRIPTED_STREAM_DELAY_S", CHUNK_DELAY_S)


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_a_player_watches_the_answers_stream_in_then_reads_the_verdicts(
    slow_streaming_worker,
    celery_worker_process,
    page,
    alice,
    bob,
    carol,
    agent_factory,  # noqa: F811
):
    for user in (alice, bob):
        fund(user, 1000)
    space = make_space(carol, slug="watch", panel=[{"kind": "verifier", "mode": "numeric"}])
    tier = space.fee_tiers.get(name="standard")
    with dispatch.inline():  # formed, not queued yet: the page opens first
        match = form_match(space, tier, [alice, bob], agent_factory)

    _log_in(page, "alice", "alice-pass-123")
    page.goto(f"/matches/{match.pk}/")
    page.wait_for_selector("[data-live-connected=true]", state="attached")
    assert page.locator("[data-testid=match-status]").inner_text() == "formed"
    snap(page, "match-formed")
    assert_accessible(page)

    dispatch.enqueue_step(match_id=match.pk, status=match.status)  # to the real worker

    # Both columns fill in while the match is still rolling out: part of an answer, its
    # progress bar moving, before the stored answers arrive.
    page.wait_for_function(
        """() => {
            const status = document.querySelector('[data-testid=match-status]').innerText;
            const cols = [0, 1].map(i => document.querySelector(`[data-seat="${i}"]`));
            return status === 'rolling_out' && cols.every(c =>
                c.querySelector('[data-role=text]').textContent.trim().length > 0
                && c.querySelector('[data-role=bar]').value > 0
                && c.getAttribute('data-final') !== 'true');
        }""",
        timeout=60_000,
    )
    streamed = page.locator("[data-testid=seat-0-text]").inner_text()
    assert streamed and not streamed.endswith(".")  # a part, not yet the whole answer
    assert Match.objects.get(pk=match.pk).status == Match.Status.ROLLING_OUT
    snap(page, "match-streaming")
    assert_accessible(page)

    page.wait_for_function(
        "document.querySelector('[data-testid=match-status]').innerText === 'settled'",
        timeout=90_000,
    )
    page.wait_for_selector("[data-testid=story-payout]")
    match.refresh_from_db()
    seat = match.seats.get(index=0)
    assert page.locator("[data-testid=seat-0-text]").inner_text() == seat.text
    story = page.locator("[data-testid=match-story]").inner_text()
    assert "Reference answer:" in story and match.prompt.reference in story
    assert "Judge 1: verifier in mode numeric" in story
    assert f"seat 1 ({seat.agent.name}):" in story
    assert f"pot {match.pot} = fees {match.fees} + subsidy {match.subsidy}" in story
    assert "prize pool" in story
    snap(page, "match-settled")
    assert_accessible(page)
    assert "rollout_match" in celery_worker_process.log()
