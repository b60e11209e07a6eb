"""The match page follows a running match live: a browser holds the page open while the match's
steps run, and the page shows each new state without a reload, through the websocket and the
fragment it re-fetches.

The steps run in a thread of the test process, as a worker would run them: Playwright's sync API
keeps an event loop running on the test's own thread, and code that publishes to the channel
layer (``async_to_sync``) must not run on a thread with a running loop, just as it never does in a
Celery worker.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from agents.inference.scripted import use_script
from arena import tasks
from tests.arena.helpers import form_match, sum_answer

pytestmark = pytest.mark.browser


def off_the_page_thread(step, *args):
    """Run ``step(*args)`` on a fresh thread and return its result (exceptions propagate)."""

    def run():
        try:
            return step(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=120)


def test_it_updates_the_open_match_page_as_the_match_runs(
    page, players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = off_the_page_thread(form_match, space, tier, [alice, bob], agent_factory)
    page.goto(f"/matches/{match.pk}/")
    status = page.locator("[data-testid=match-status]")
    assert status.inner_text() == "formed"
    # The socket is open (and so subscribed) before the first event is sent.
    page.wait_for_selector("[data-live-connected=true]", state="attached")

    with use_script(sum_answer):
        assert off_the_page_thread(tasks.rollout_match, match.pk) is True
        page.wait_for_function(
            "document.querySelector('[data-testid=match-status]').innerText === 'judging'"
        )
        assert off_the_page_thread(tasks.judge_match, match.pk) is True
        assert off_the_page_thread(tasks.settle_match, match.pk) is True
    page.wait_for_function(
        "document.querySelector('[data-testid=match-status]').innerText === 'settled'"
    )
    assert (
        "alice"
        in page.locator("[data-testid=seat-0]").inner_text()
        + page.locator("[data-testid=seat-1]").inner_text()
    )


HOSTILE = '<img src=x onerror="window.pwned=1"> <b>bold</b> 4 and then some more words here'


def test_streamed_answers_are_shown_as_text_never_as_markup(
    page, players, space, tier, agent_factory, settings
):
    """An answer is written by an agent: while it streams in (seat.progress), the page puts it in
    the seat's column as text, so markup in it is shown, not run."""
    settings.ARENA_STREAM_EVERY_TOKENS = 2
    settings.ARENA_SCRIPTED_STREAM_DELAY_S = 0.4
    alice, bob, _ = players
    match = off_the_page_thread(form_match, space, tier, [alice, bob], agent_factory)
    page.goto(f"/matches/{match.pk}/")
    page.wait_for_selector("[data-live-connected=true]", state="attached")

    with use_script([HOSTILE, "4"]), ThreadPoolExecutor(max_workers=1) as pool:
        rollout = pool.submit(off_the_page_thread, tasks.rollout_match, match.pk)
        page.wait_for_function(
            "document.querySelector('[data-testid=seat-0-text]').textContent.includes('<img')"
        )
        assert page.locator("[data-seat='0'] img, [data-seat='0'] b").count() == 0
        assert rollout.result(timeout=60) is True
    page.wait_for_function(
        "document.querySelector('[data-testid=match-status]').innerText === 'judging'"
    )
    assert page.evaluate("() => window.pwned === undefined")
    assert page.locator("[data-seat='0'] img, [data-seat='0'] b").count() == 0
