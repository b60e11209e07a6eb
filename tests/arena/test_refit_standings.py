"""Standings refits from the match loop's data: reading settled matches, the periodic task, the
``refit_standings`` command, and the intervals on the leaderboard page and in the API."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.template.defaultfilters import floatformat

from agents.inference.scripted import use_script
from arena.celery import app
from arena.models import Match
from arena.selectors import leaderboard
from arena.services.entries import entry_create
from arena.services.matches import match_run_inline
from arena.services.matchmaking import matchmake
from arena.services.standings import refit_space, space_matches_for_fit, spaces_due_for_refit
from arena.tasks import refit_standings
from judges.models import Standing, StandingsFit
from tests.arena.helpers import sum_answer

_keys = iter(range(10**6))


def play(space, tier, pairs) -> list[Match]:
    """One settled match per (winner, loser): the first to enter takes seat 0, whose scripted
    answer is the right one."""
    played = []
    for winner, loser in pairs:
        n = next(_keys)
        for agent in (winner, loser):
            entry_create(
                agent=agent, space=space, fee_tier=tier, key=f"bt:{n}:{agent.pk}", matchmake=False
            )
        [match] = matchmake(space=space, fee_tier=tier, window_override=float("inf"))
        with use_script(sum_answer):
            match_run_inline(match_id=match.pk)
        match.refresh_from_db()
        assert match.status == Match.Status.SETTLED
        played.append(match)
    return played


@pytest.fixture
def trio(players, agent_factory):
    alice, bob, dave = players
    return agent_factory(alice, name="ace"), agent_factory(bob, name="bee"), agent_factory(dave)


def test_it_reads_settled_matches_as_rankings_with_answer_lengths(space, tier, trio):
    a, b, c = trio
    played = play(space, tier, [(a, b), (b, c)])
    for agent in (a, c):  # a match formed but never run: not settled, not read
        entry_create(agent=agent, space=space, fee_tier=tier, key=f"open:{agent.pk}")

    matches, read = space_matches_for_fit(space)

    assert read == 2
    expected = [
        [(seat.agent_id, seat.rank, len(seat.text)) for seat in match.seats.order_by("index")]
        for match in played
    ]
    assert matches == expected
    assert [[rank for _, rank, _ in m] for m in matches] == [[1, 2], [1, 2]]


def test_a_refit_stores_standings_and_a_new_match_makes_the_space_due_again(space, tier, trio):
    a, b, c = trio
    play(space, tier, [(a, b), (b, c), (a, c)])
    assert list(spaces_due_for_refit()) == [space]

    fit = refit_space(space, rounds=30)

    assert fit.matches == fit.source_matches == 3 and fit.rounds == 30
    rows = list(Standing.objects.filter(space=space))
    assert [row.agent_id for row in rows] == [a.pk, b.pk, c.pk]
    assert [row.win_rate for row in rows] == [1.0, 0.5, 0.0]
    assert list(spaces_due_for_refit()) == []
    play(space, tier, [(c, a)])
    assert list(spaces_due_for_refit()) == [space]


def test_the_periodic_task_refits_each_due_space_once(space, tier, trio):
    a, b, _ = trio
    play(space, tier, [(a, b), (b, a), (a, b)])

    assert refit_standings() == [space.slug]
    assert refit_standings() == []  # nothing new: a second run (or a redelivery) does nothing
    assert StandingsFit.objects.get(space=space).source_matches == 3

    task = app.tasks["arena.refit_standings"]
    assert task.acks_late is True
    schedule = [e for e in app.conf.beat_schedule.values() if e["task"] == task.name]
    assert [e["schedule"] for e in schedule] == [600.0]


def test_the_command_refits_on_demand_and_prints_the_standings(space, tier, trio):
    a, b, c = trio
    play(space, tier, [(a, b), (b, c), (a, c), (a, b)])
    out = StringIO()
    call_command("refit_standings", "--space", space.slug, "--rounds", "25", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["space"] == space.slug and report["matches"] == 4 and report["rounds"] == 25
    assert [row["agent"] for row in report["standings"]] == ["ace", "bee", c.name]
    top = report["standings"][0]
    assert top["rank"] == 1 and top["lower"] <= top["strength"] <= top["upper"]
    assert top["matches"] == 3 and top["win_rate"] == 1.0

    text = StringIO()
    call_command("refit_standings", "--space", space.slug, "--rounds", "10", stdout=text)
    assert "4 matches, 10 bootstrap rounds" in text.getvalue() and "ace" in text.getvalue()
    assert StandingsFit.objects.get(space=space).rounds == 10


def test_the_command_refuses_bad_input_and_changes_nothing(space, tier, trio):
    a, b, _ = trio
    play(space, tier, [(a, b)])
    with pytest.raises(CommandError, match="no space"):
        call_command("refit_standings", "--space", "nope")
    with pytest.raises(CommandError, match="rounds must be an integer from 1 to"):
        call_command("refit_standings", "--space", space.slug, "--rounds", "0")
    assert not StandingsFit.objects.exists() and not Standing.objects.exists()


def test_a_space_without_settled_matches_has_nothing_to_fit(space):
    out = StringIO()
    call_command("refit_standings", "--space", space.slug, stdout=out)
    assert "no settled match to fit" in out.getvalue()
    assert list(spaces_due_for_refit()) == []


def test_the_leaderboard_page_and_api_show_intervals_and_rank_by_them(client, space, tier, trio):
    a, b, c = trio
    play(space, tier, [(a, b), (b, c), (a, c), (a, b), (b, c)])
    page = client.get(f"/spaces/{space.slug}/").content.decode()
    assert "until the standings are fitted" in page and 'data-testid="interval"' not in page
    before = client.get(f"/api/v1/spaces/{space.slug}/leaderboard/").json()
    assert before[0]["strength"] is None and before[0]["rank"] is None

    refit_space(space, rounds=40)
    stored = {s.agent_id: s for s in Standing.objects.filter(space=space)}

    rows = leaderboard(space=space)
    assert [row["agent_id"] for row in rows] == [a.pk, b.pk, c.pk]
    for row in rows:
        standing = stored[row["agent_id"]]
        assert row["rank"] == standing.rank
        assert (row["strength"], row["lower"], row["upper"]) == (
            round(standing.strength, 3),
            round(standing.lower, 3),
            round(standing.upper, 3),
        )
        assert row["win_rate"] == round(standing.win_rate, 3)
    assert [row["rank"] for row in rows] == sorted(row["rank"] for row in rows)

    board = client.get(f"/api/v1/spaces/{space.slug}/leaderboard/").json()
    assert [row["agent"] for row in board] == ["ace", "bee", c.name]
    assert board[0]["lower"] <= board[0]["strength"] <= board[0]["upper"]
    assert board[0]["win_rate"] == 1.0 and board[0]["rank"] == 1
    assert {"mu", "sigma", "ordinal", "matches", "winnings", "place"} <= set(board[0])

    page = client.get(f"/spaces/{space.slug}/").content.decode()
    assert page.count('data-testid="interval"') == 3
    interval = f"{floatformat(stored[a.pk].lower, 2)} to {floatformat(stored[a.pk].upper, 2)}"
    assert interval in page
    assert 'data-testid="standings-note"' in page and "5 settled matches" in page
    assert "100%" in page  # ace's win rate
