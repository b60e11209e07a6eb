"""The match page follows a running match live: a browser holds the page open while the match's
steps run (here in the test process, as a worker would run them), and the page shows each new
state without a reload, through the websocket and the fragment it re-fetches."""

import pytest

from agents.inference.scripted import use_script
from arena import tasks
from tests.arena.helpers import form_match, sum_answer

pytestmark = pytest.mark.browser


def test_it_updates_the_open_match_page_as_the_match_runs(
    page, players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    page.goto(f"/matches/{match.pk}/")
    status = page.locator("[data-testid=match-status]")
    assert status.inner_text() == "formed"
    page.wait_for_function("document.querySelector('#match-body') !== null")
    # Give the socket a moment to subscribe before the first event is sent.
    page.wait_for_timeout(1000)

    with use_script(sum_answer):
        assert tasks.rollout_match(match.pk) is True
        page.wait_for_function(
            "document.querySelector('[data-testid=match-status]').innerText === 'judging'"
        )
        assert tasks.judge_match(match.pk) is True
        assert tasks.settle_match(match.pk) is True
    page.wait_for_function(
        "document.querySelector('[data-testid=match-status]').innerText === 'settled'"
    )
    assert (
        "alice"
        in page.locator("[data-testid=seat-0]").inner_text()
        + page.locator("[data-testid=seat-1]").inner_text()
    )
