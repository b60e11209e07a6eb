# ruff: noqa: F811  (the match-loop fixtures are imported from tests/arena/conftest.py)
"""Journey: a visitor opens a space page with an announced economics change and a leaderboard,
reads the change log, and filters the leaderboard by fee tier."""

from __future__ import annotations

import pytest

from agents.inference.scripted import use_script
from arena.services.matches import match_run_inline
from spaces.services import fee_tier_create, space_update
from tests.arena.conftest import (  # noqa: F401  (fixtures)
    agent_factory,
    base_model,
    dave,
    no_broker,
    players,
    scripted_backend,
    space,
)
from tests.arena.helpers import form_match, sum_answer
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser


def test_a_visitor_reads_the_change_log_and_filters_the_leaderboard(
    page, carol, players, space, agent_factory
):
    alice, bob, dave = players
    standard = space.fee_tiers.get(name="standard")
    free = space.fee_tiers.get(name="free")
    for tier, owners in ((standard, [alice, bob]), (free, [bob, dave])):
        match = form_match(space, tier, owners, agent_factory)
        with use_script(sum_answer):
            assert match_run_inline(match_id=match.pk).status == "settled"
    space_update(space=space, actor=carol, creator_rake_bps=700, reason="hosting costs")
    fee_tier_create(space=space, name="high roller", fee=500, actor=carol)

    page.goto(f"/spaces/{space.slug}/")
    log = page.locator("[data-testid=change-log]")
    assert "creator rake 5% -> 7%" in log.inner_text()
    assert "new fee tier: high roller, 500 credits" in log.inner_text()
    assert "takes effect in 23" in log.inner_text()
    assert page.locator("[data-testid=leaderboard-row]").count() == 4
    snap(page, "space-page-changes")
    assert_accessible(page)

    page.select_option("#tier-select", str(free.pk))
    page.click("[data-testid=tier-filter] button[type=submit]")
    page.wait_for_url(f"**/spaces/{space.slug}/?tier={free.pk}*")
    rows = page.locator("[data-testid=leaderboard-row]")
    assert rows.count() == 2
    owners = {rows.nth(i).locator("td").nth(2).inner_text() for i in range(2)}
    assert owners == {"bob", "dave"}
    snap(page, "space-page-tier-filter")
    assert_accessible(page)

    rows.first.locator("a").click()
    page.wait_for_url("**/agents/*/")
