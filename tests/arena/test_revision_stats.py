"""Per-revision stats on real matches (scripted backend, the match's tasks run in process): the
rollout records the revision each seat played with, and the stats count, rank, price and rate
each revision's matches in each space."""

from __future__ import annotations

import re
import uuid

import pytest

from agents.inference.scripted import use_script
from agents.services import agent_update
from arena.models import Match, Seat
from arena.revision_stats import chart_data, rating_history, revision_records
from arena.services.entries import entry_create
from arena.services.matches import match_run_inline
from arena.services.matchmaking import matchmake
from judges.intervals import mean_interval, wilson_interval
from judges.models import Rating
from tests.arena.helpers import sum_answer

pytestmark = pytest.mark.django_db


def play(space, tier, agents, script=sum_answer) -> Match:
    """One match of ``agents``, entered in this order (seat 0 first); played to settled. The
    rating window is off (as ``play`` does): a winner and a loser may meet again at once."""
    for agent in agents:
        entry_create(
            agent=agent,
            space=space,
            fee_tier=tier,
            key=f"stats:{uuid.uuid4().hex}",
            matchmake=False,
        )
    [formed] = matchmake(space=space, fee_tier=tier, window_override=float("inf"))
    assert [s.agent_id for s in formed.seats.order_by("index")] == [a.pk for a in agents]
    with use_script(script):
        match = match_run_inline(match_id=formed.pk)
    assert match.status == "settled"
    return match


def both_right(request, index: int) -> str:
    a, b = map(int, re.findall(r"\d+", request.messages[-1]["content"])[:2])
    return str(a + b)


@pytest.fixture
def rivals(players, agent_factory):
    alice, bob, _ = players
    return agent_factory(alice, "scout"), agent_factory(bob, "rival")


def test_the_rollout_records_the_revision_each_seat_played_with(players, space, tier, rivals):
    alice = players[0]
    scout, rival = rivals
    first = play(space, tier, [scout, rival])
    agent_update(agent=scout, by=alice, system_prompt="Only the number.", note="terse")
    second = play(space, tier, [scout, rival])
    numbers = dict(Seat.objects.filter(agent=scout).values_list("match_id", "revision__number"))
    assert numbers == {first.pk: 1, second.pk: 2}
    assert second.seats.get(agent=rival).revision.number == 1  # the rival never changed


def test_stats_per_revision_count_wins_ranks_and_credits(players, space, tier, rivals):
    alice = players[0]
    scout, rival = rivals
    for _ in range(4):
        play(space, tier, [scout, rival])  # seat 0 answers right: scout wins
    records = revision_records(scout)
    assert len(records) == 1 and records[0].comparison is None  # one revision: nothing to compare
    agent_update(agent=scout, by=alice, temperature=0.1, note="colder")
    play(space, tier, [rival, scout])
    # One match of r2 against four of r1: the intervals overlap.
    assert revision_records(scout)[0].comparison.outcome == "undecided"
    for _ in range(3):
        play(space, tier, [rival, scout])  # now the rival has seat 0 and wins

    [record] = revision_records(scout)
    assert record.space == space
    r1, r2 = record.revisions
    assert (r1.label, r1.matches, r1.wins, r1.ranks) == ("r1", 4, 4.0, [1, 1, 1, 1])
    assert (r2.label, r2.matches, r2.wins, r2.ranks) == ("r2", 4, 0.0, [2, 2, 2, 2])
    assert r1.win_interval == wilson_interval(4, 4) and r1.win_rate == 1.0
    assert r1.win_text == "100% [51%, 100%]"
    assert r2.win_text == "0% [0%, 49%]"
    assert r1.rank_text == "1.00 [1.00, 1.00]"
    # fee 100 each; pot 200, rakes 10 + 10, 126 to the winner and 54 to the second
    assert (r1.fees, r1.prizes, r1.net) == (400, 504, 104)
    assert (r2.fees, r2.prizes, r2.net) == (400, 216, -184)
    cmp = record.comparison
    assert (cmp.latest, cmp.previous, cmp.outcome) == (r2, r1, "worse")
    assert cmp.sentence.startswith("r2 did worse than r1")
    row = r2.as_dict()
    assert row["revision"] == 2 and row["net_credits"] == -184
    assert row["average_rank"] == 2.0 and row["win_rate_high"] == pytest.approx(0.4899, abs=1e-3)


def test_a_shared_first_place_counts_half_a_win(players, space, tier, rivals):
    scout, rival = rivals
    match = play(space, tier, [scout, rival], script=both_right)
    assert sorted(match.seats.values_list("rank", flat=True)) == [1, 1]
    [record] = revision_records(scout)
    [row] = record.revisions
    assert row.wins == 0.5 and row.win_rate == 0.5


def test_only_settled_matches_count(players, space, tier, rivals):
    from arena.services.aborts import match_cancel

    scout, rival = rivals
    for agent in (scout, rival):
        entry, _ = entry_create(agent=agent, space=space, fee_tier=tier, key=uuid.uuid4().hex)
    match_cancel(match_id=entry.match_id, reason="test")
    assert revision_records(scout) == []


def test_the_replayed_rating_history_ends_at_the_stored_rating(players, space, tier, rivals):
    alice = players[0]
    scout, rival = rivals
    play(space, tier, [scout, rival])
    play(space, tier, [rival, scout])
    agent_update(agent=scout, by=alice, top_k=10)
    play(space, tier, [scout, rival], script=both_right)

    history = rating_history(scout, space)
    assert [p.revision for p in history] == [1, 1, 2]
    stored = Rating.objects.get(agent=scout, space=space)
    assert history[-1].mu == pytest.approx(stored.mu)
    assert history[-1].sigma == pytest.approx(stored.sigma)
    assert history[0].mu > 25 > history[1].mu  # a win moves it up, a loss back down
    rival_history = rating_history(rival, space)
    assert rival_history[-1].mu == pytest.approx(Rating.objects.get(agent=rival, space=space).mu)

    [chart] = chart_data(scout, revision_records(scout))
    assert chart["space"] == space.title and len(chart["points"]) == 3
    assert chart["boundaries"] == [{"index": 0, "label": "r1"}, {"index": 2, "label": "r2"}]
    point = chart["points"][0]
    assert point["low"] == pytest.approx(point["mu"] - 2 * point["sigma"], abs=1e-3)


def test_the_mean_interval_uses_students_t():
    mean, low, high = mean_interval([1, 2, 3, 4])
    # mean 2.5, sd 1.291, sem 0.6455, t(0.975, 3) = 3.182 -> half width 2.054
    assert mean == 2.5 and low == pytest.approx(0.446, abs=1e-3)
    assert high == pytest.approx(4.554, abs=1e-3)
    assert mean_interval([2]) == (2.0, None, None)
    assert mean_interval([]) == (None, None, None)
    assert mean_interval([1, 1, 1]) == (1.0, 1.0, 1.0)
