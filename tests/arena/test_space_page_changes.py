"""The space page: the public change log of its economics, in words, and the leaderboard (rank by
interval with ties shown as ties, a fee tier filter, links to the agents' public pages)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from agents.inference.scripted import use_script
from arena.services.entries import entry_create
from arena.services.matches import match_run_inline
from arena.services.matchmaking import matchmake
from arena.services.standings import refit_space
from arena.views.spaces import rank_labels
from spaces.economics import PLATFORM
from spaces.services import economics_change_withdraw, fee_tier_create, space_update
from tests.arena.helpers import sum_answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_day_notice(settings):
    settings.ARENA_ECONOMICS_NOTICE_S = 86400


def page(client, space, **params):
    response = client.get(reverse("arena:space", args=[space.slug]), params)
    assert response.status_code == 200
    return response


def test_the_page_shows_the_change_log_in_words(client, carol, space):
    space_update(space=space, actor=carol, creator_rake_bps=700, reason="hosting costs")
    space_update(space=space, actor=carol, payout_shares=["0.8", "0.2"])
    withdrawn = space_update(space=space, actor=PLATFORM, subsidy=25).economics_change
    economics_change_withdraw(change=withdrawn, actor=PLATFORM)
    fee_tier_create(space=space, name="high", fee=50, actor=carol)

    text = page(client, space).content.decode()
    assert "creator rake 5% -&gt; 7%" in text
    assert "1st place share 70% -&gt; 80%" in text and "2nd place share 30% -&gt; 20%" in text
    assert "new fee tier: high, 50 credits" in text
    assert "takes effect in 23" in text  # "23 hours, 59 minutes"
    assert "Why: hosting costs" in text and "by carol" in text
    assert "Withdrawn" in text and "withdrawn by the platform" in text
    assert text.count('data-testid="change-pending"') == 3
    # The current terms stay, as percentages, until the changes take effect.
    assert "Creator rake 5%, platform rake 5% of the pot" in text
    assert "1st 70%, 2nd 30%" in text
    assert "{" not in text.split('data-testid="change-log"')[1].split("</section>")[0]


def test_the_page_says_when_there_are_no_changes(client, space):
    assert 'data-testid="no-changes"' in page(client, space).content.decode()


def play(space, tier, agents):
    """One match of these agents, entered in this order (the scripted answers make the first
    one right and the others wrong), played to the end."""
    for agent in agents:
        entry, _ = entry_create(
            agent=agent, space=space, fee_tier=tier, key=f"page:{uuid.uuid4().hex[:12]}"
        )
    # Rated agents may be too far apart for the rating window to pair them at once.
    matchmake(space=space, fee_tier=tier, window_override=float("inf"))
    entry.refresh_from_db()
    with use_script(sum_answer):
        assert match_run_inline(match_id=entry.match_id).status == "settled"


@pytest.fixture
def played(players, space, agent_factory):
    """Standard tier: alice's agent beats bob's. Free tier: bob's second agent and dave's win
    one match each (a tie by interval)."""
    alice, bob, dave = players
    standard = space.fee_tiers.get(name="standard")
    free = space.fee_tiers.get(name="free")
    play(space, standard, [agent_factory(alice, "Ace"), agent_factory(bob, "Bee")])
    bee2, dee = agent_factory(bob, "Bee two"), agent_factory(dave, "Dee")
    play(space, free, [bee2, dee])
    play(space, free, [dee, bee2])
    return {"standard": standard, "free": free}


def rows(response):
    return response.context["leaderboard"]


def test_the_leaderboard_filters_by_fee_tier(client, space, played):
    everyone = rows(page(client, space))
    assert {row["owner"] for row in everyone} == {"alice", "bob", "dave"}

    free = page(client, space, tier=played["free"].pk)
    board = rows(free)
    assert {row["owner"] for row in board} == {"bob", "dave"}
    assert [row["matches"] for row in board] == [2, 2]
    assert [row["win_rate"] for row in board] == [0.5, 0.5]
    assert all(row["lower"] <= row["strength"] <= row["upper"] for row in board)
    text = free.content.decode()
    assert f'<option value="{played["free"].pk}" selected>' in text
    assert "Fee tier free: fitted on this tier" in text

    standard = rows(page(client, space, tier=played["standard"].pk))
    assert {row["owner"] for row in standard} == {"alice", "bob"}


def test_a_tie_by_interval_shows_as_a_tie(client, space, played):
    # One win each: their 95% intervals overlap, so they share rank 1.
    board = rows(page(client, space, tier=played["free"].pk))
    assert [row["rank_label"] for row in board] == ["=1", "=1"]
    text = page(client, space, tier=played["free"].pk).content.decode()
    assert text.count('<td data-testid="rank">=1</td>') == 2


def test_the_stored_standings_show_ties_as_ties(client, space, played):
    refit_space(space, rounds=50)
    board = rows(page(client, space))
    labels = [row["rank_label"] for row in board]
    ranks = [row["rank"] for row in board]
    for label, rank in zip(labels, ranks, strict=True):
        assert label == (f"={rank}" if ranks.count(rank) > 1 else str(rank))


def test_agent_names_link_to_their_public_pages(client, space, played):
    text = page(client, space).content.decode()
    for row in rows(page(client, space)):
        link = reverse("arena:agent", args=[row["agent_id"]])
        assert f'<a href="{link}">{row["agent"]}</a>' in text


def test_an_unknown_tier_shows_every_tier_and_says_so(client, space, played):
    response = page(client, space, tier="nonsense")
    assert response.context["tier_filter"] is None
    assert len(rows(response)) == 4
    assert "Fee tier: choose one of this space&#x27;s fee tiers" in response.content.decode()


def test_rank_labels_mark_shared_ranks():
    def row(rank, ordinal=0.0):
        return {"rank": rank, "ordinal": ordinal}

    rows_ = [row(1), row(2), row(2), row(4), row(None, 3.0), row(None, 1.0), row(None, 1.0)]
    assert [r["rank_label"] for r in rank_labels(rows_)] == ["1", "=2", "=2", "4", "5", "=6", "=6"]
