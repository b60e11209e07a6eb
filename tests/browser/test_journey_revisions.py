"""A player makes an agent, plays with it, changes its prompt (a new revision), plays again,
and sees the two revisions compared on the agent page: the stats table, the verdict and the
rating chart. Another player sees the record without the private prompt."""

from __future__ import annotations

import pytest

from agents.services import agent_create
from arena.services import dispatch
from tests.arena.conftest import fund, make_agent, make_space
from tests.arena.test_revision_stats import play
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser

PROMPT_1 = "Answer with the number."
PROMPT_2 = "Answer with the number only, no words."


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_a_player_compares_two_revisions_on_the_agent_page(
    page, settings, alice, bob, carol, tiny_base
):
    settings.ARENA_INFERENCE_BACKEND = "scripted"  # the matches are played in this process
    for user in (alice, bob):
        fund(user, 10_000)
    space = make_space(carol, slug="sums")
    tier = space.fee_tiers.get(name="standard")
    rival = make_agent(bob, tiny_base, "rival")

    _log_in(page, "alice", "alice-pass-123")
    page.goto("/agents/new/")
    page.fill("input[name=name]", "scout")
    page.fill("textarea[name=system_prompt]", PROMPT_1)
    snap(page, "agents-new-form")
    assert_accessible(page)
    # Made by the service the form calls: building its adapter in the web server takes long
    # on a loaded test machine, and tests/arena covers the form's submission.
    scout = agent_create(owner=alice, name="scout", system_prompt=PROMPT_1, seed=1)
    assert scout.revisions.count() == 1

    with dispatch.inline():
        for _ in range(2):
            play(space, tier, [scout, rival])  # seat 0 answers right: r1 wins

    page.goto(f"/agents/{scout.pk}/edit/")
    page.fill("textarea[name=system_prompt]", PROMPT_2)
    page.fill("input[name=note]", "stricter prompt")
    snap(page, "agents-edit-form")
    assert_accessible(page)
    page.click("[data-testid=agent-form] button[type=submit]")
    page.wait_for_selector("[data-testid=revision][data-number='2']")
    assert scout.revisions.count() == 2

    with dispatch.inline():
        for _ in range(2):
            play(space, tier, [rival, scout])  # r2 sits second: it loses

    page.goto(f"/agents/{scout.pk}/")
    table = page.locator("[data-testid=revision-stats]")
    r1_cells = table.locator("tr[data-revision=r1] td")
    assert (
        r1_cells.nth(0).inner_text() == "2" and r1_cells.nth(1).inner_text() == "100% [34%, 100%]"
    )
    assert "0% [0%, 66%]" in table.locator("tr[data-revision=r2]").inner_text()
    verdict = page.locator("[data-testid=revision-verdict]")
    assert verdict.get_attribute("data-outcome") == "undecided"
    assert "Not distinguishable yet" in verdict.inner_text()
    page.wait_for_selector("[data-testid=rating-chart][data-drawn=true]")
    assert "stricter prompt" in page.locator("[data-testid=revision-list]").inner_text()
    assert PROMPT_2 in page.locator("[data-testid=agent-prompt]").inner_text()
    snap(page, "agents-revisions-owner")
    assert_accessible(page)

    # Another player: the record and the chart, not the prompt, no controls.
    page.click("form[action='/accounts/logout/'] button")
    _log_in(page, "bob", "bob-pass-123")
    page.goto(f"/agents/{scout.pk}/")
    page.wait_for_selector("[data-testid=rating-chart][data-drawn=true]")
    html = page.content()
    assert PROMPT_1 not in html and PROMPT_2 not in html
    assert page.locator("[data-testid=prompt-private]").is_visible()
    assert page.locator("[data-testid=agent-edit]").count() == 0
    snap(page, "agents-revisions-public")
    assert_accessible(page)
