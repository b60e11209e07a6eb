"""A judged match told in sentences (``arena.match_story``): each judge kind's verdict in words
and numbers, shadow judges, the ranking with ties, the payout rule with the match's own numbers,
the ratings; and the match page shows them, never a stored dict."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from agents.inference.scripted import use_script
from arena.match_story import _Seats, judge_story, percent, ranking_lines
from arena.services.matches import match_run_inline
from tests.arena.conftest import make_space
from tests.arena.helpers import form_match, sum_answer


def fake_seats(*names, ranks=None, violations=None):
    ranks = ranks or [None] * len(names)
    violations = violations or [""] * len(names)
    return [
        SimpleNamespace(
            agent=SimpleNamespace(name=name), rank=rank, violation=violation, injection=[]
        )
        for name, rank, violation in zip(names, ranks, violations, strict=True)
    ]


def verdict(kind, details, *, index=0, points=(1.0, 0.0), max_points=1.0, **config):
    return {
        "judge_kind": kind,
        "data": {
            "index": index,
            "config": {"kind": kind, **config},
            "points": list(points),
            "max_points": max_points,
            "details": details,
        },
    }


SEATS = _Seats(fake_seats("alpha", "beta"))


def test_a_numeric_verifier_says_who_was_right_and_what_number_it_read():
    story = judge_story(
        verdict(
            "verifier",
            {
                "mode": "numeric",
                "answers": [
                    {"correct": True, "parsed": "4"},
                    {"correct": False, "parsed": None, "reason": "no number in the answer"},
                ],
            },
            mode="numeric",
        ),
        SEATS,
    )
    assert story.title == "judge 1: verifier in mode numeric"
    assert story.counted == "counted with weight 1" and not story.shadow
    assert story.lines == [
        "seat 1 (alpha): correct (read 4; the number matches the reference)",
        "seat 2 (beta): wrong (no number in the answer)",
    ]


def test_an_exact_verifier_says_exact_match():
    story = judge_story(
        verdict(
            "verifier",
            {"mode": "exact", "answers": [{"correct": False}, {"correct": True}]},
            mode="exact",
            weight=2,
        ),
        SEATS,
    )
    assert story.lines == [
        "seat 1 (alpha): wrong (not an exact match of the reference)",
        "seat 2 (beta): correct (exact match)",
    ]
    assert story.counted == "counted with weight 2"


def test_a_tests_verifier_counts_the_tests_passed_and_names_them():
    details = {
        "mode": "tests",
        "tests": 4,
        "answers": [
            {
                "correct": False,
                "passed": 3,
                "tests": [
                    {"passed": True},
                    {"passed": True},
                    {"passed": False, "reason": "assertion"},
                    {"passed": True},
                ],
            },
            {"correct": False, "passed": 0, "tests": [{"passed": False, "reason": "no code"}] * 4},
        ],
    }
    story = judge_story(verdict("verifier", details, mode="tests"), SEATS)
    assert story.lines == [
        "seat 1 (alpha): 3 of 4 tests passed — passed test 1, test 2, test 4; "
        "test 3 failed (assertion)",
        "seat 2 (beta): 0 of 4 tests passed — test 1 failed (no code); test 2 failed (no code); "
        "test 3 failed (no code); test 4 failed (no code)",
    ]


def test_a_pairwise_judge_says_who_beat_whom_with_probability_margin_and_orders():
    pair = {
        "a": 0,
        "b": 1,
        "winner": 1,
        "by": "model",
        "p_ab": [0.30, 0.70],  # alpha shown first: P(alpha) 0.30, P(beta) 0.70
        "p_ba": [0.76, 0.24],  # beta shown first: P(beta) 0.76
        "margin": -0.46,
        "orders_agree": True,
    }
    story = judge_story(
        verdict("pairwise-llm", {"tie_margin": 0.1, "pairs": [pair]}, points=(0, 1)), SEATS
    )
    assert story.lines == [
        "preferred seat 2 (beta) over seat 1 (alpha) with probability 0.73 "
        "(0.76 shown first, 0.70 shown second; margin 0.46 nats); shown in both orders: agreed"
    ]


def test_a_pairwise_tie_and_the_shortcuts_are_said_too():
    tie = {
        "a": 0,
        "b": 1,
        "winner": None,
        "by": "margin-below-threshold",
        "p_ab": [0.5, 0.5],
        "p_ba": [0.52, 0.48],
        "margin": 0.04,
        "orders_agree": False,
    }
    story = judge_story(verdict("pairwise-llm", {"tie_margin": 0.1, "pairs": [tie]}), SEATS)
    assert story.lines == [
        "could not separate seat 1 (alpha) and seat 2 (beta) (margin 0.04 nats, below the tie "
        "threshold 0.1): a tie; shown in both orders: disagreed"
    ]
    blank = {"a": 0, "b": 1, "winner": 0, "by": "blank"}
    identical = {"a": 0, "b": 1, "winner": None, "by": "identical"}
    story = judge_story(verdict("pairwise-llm", {"pairs": [blank, identical]}), SEATS)
    assert story.lines == [
        "preferred seat 1 (alpha) over seat 2 (beta): one answer is blank (model not asked)",
        "seat 1 (alpha) and seat 2 (beta) tie: the answers are identical (model not asked)",
    ]


def test_a_shadow_judge_is_labelled_not_counted():
    story = judge_story(
        verdict("pairwise-llm", {"pairs": []}, index=1, shadow=True),
        SEATS,
    )
    assert story.title == "judge 2: pairwise-llm"
    assert story.shadow and story.counted == "shadow: not counted"


def test_an_unknown_kind_is_told_by_its_points():
    story = judge_story(
        verdict("new-kind", {"whatever": {"x": 1}}, points=(2, 1), max_points=3), SEATS
    )
    assert story.lines == ["seat 1 (alpha): 2 of 3 points", "seat 2 (beta): 1 of 3 points"]


def test_the_ranking_groups_ties_and_says_why_an_answer_ranked_last():
    seats = fake_seats(
        "alpha", "beta", "gamma", ranks=[1, 1, 3], violations=["", "", "banned text"]
    )
    assert ranking_lines(seats) == [
        "tied 1st: seat 1 (alpha) and seat 2 (beta)",
        "3rd: seat 3 (gamma) (ranked last: banned text)",
    ]


def test_percentages_are_exact_or_two_decimals():
    from fractions import Fraction

    assert percent(Fraction(7, 10)) == "70%"
    assert percent(Fraction(1, 3)) == "33.33%"


def settle(space, tier, owners, agent_factory, script):
    match = form_match(space, tier, owners, agent_factory)
    with use_script(script):
        match = match_run_inline(match_id=match.pk)
    assert match.status == "settled", match.failure_reason
    return match


def body_of(client, match) -> str:
    return client.get(f"/matches/{match.pk}/body/").content.decode()


def seat_name(match, index):
    return f"seat {index + 1} ({match.seats.get(index=index).agent.name})"


@pytest.mark.django_db
def test_the_page_tells_a_settled_match_in_words(client, players, space, tier, agent_factory):
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory, sum_answer)  # seat 0 right
    body = body_of(client, match)
    first, second = seat_name(match, 0), seat_name(match, 1)
    assert f'Reference answer:</strong> <span class="story-text">{match.prompt.reference}' in body
    assert f"{first}: correct (read {match.prompt.reference}; the number matches" in body
    assert f"{second}: wrong (read" in body
    assert f"1st: {first}" in body and f"2nd: {second}" in body
    assert "pot 200 = fees 200 + subsidy 0" in body
    assert "creator rake 5% = 10, platform rake 5% = 10" in body
    assert f"prize pool 180: 1st {first} 70% = 126, 2nd {second} 30% = 54" in body
    # Ratings: the change this match made, as the settlement stored it on each seat. Both
    # started at the default rating; the winner's ordinal went up, the loser's down.
    seats = list(match.seats.order_by("index"))
    assert all(
        s.rating_before == {"mu": 25.0, "sigma": seats[0].rating_before["sigma"]} for s in seats
    )
    assert seats[0].rating_after["mu"] > 25.0 > seats[1].rating_after["mu"]
    winner = re.search(
        re.escape(first) + r": μ 25\.00 → [\d.]+, σ [\d.]+ → [\d.]+, ordinal "
        r"[-\d.]+ → [-\d.]+ \(\+[\d.]+\)",
        body,
    )
    loser = re.search(re.escape(second) + r": μ 25\.00 → [\d.]+, .* \(-[\d.]+\)", body)
    assert winner and loser, body
    assert "not stored" not in body
    # No stored dict or list reaches the page, raw or escaped.
    assert not re.search(r"\{(&#x27;|&quot;|'|\")\w+(&#x27;|&quot;|'|\"):", body)


@pytest.mark.django_db
def test_a_tie_shares_the_places_and_the_rounding_is_said(client, players, carol, agent_factory):
    space = make_space(carol, slug="tie", fee=20, subsidy=7)
    tier = space.fee_tiers.get(name="standard")
    alice, bob, _ = players
    match = settle(space, tier, [alice, bob], agent_factory, lambda r, i: sum_answer(r, 0))
    body = body_of(client, match)
    first, second = seat_name(match, 0), seat_name(match, 1)
    # pot 47: rakes floor(47 * 5%) = 2 each; pool 43 split 50/50: 21 each, 1 left to seat 1.
    assert "pot 47 = fees 40 + subsidy 7" in body
    assert "creator rake 5% = 2, platform rake 5% = 2" in body
    assert (
        f"prize pool 43: tied 1st {first} 50% = 22 (incl. 1 credit the rounding left), "
        f"tied 1st {second} 50% = 21"
    ) in body
    assert f"tied 1st: {first} and {second}" in body


@pytest.mark.django_db
def test_no_story_before_judging_and_no_payout_before_settling(
    client, players, space, tier, agent_factory
):
    from arena import tasks

    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    assert "How it was decided" not in body_of(client, match)
    with use_script(sum_answer):
        tasks.rollout_match(match.pk)
        tasks.judge_match(match.pk)
    body = body_of(client, match)
    assert "How it was decided" in body and "prize pool" not in body


@pytest.mark.django_db
def test_markup_in_an_answer_is_escaped_on_the_page(client, players, space, tier, agent_factory):
    alice, bob, _ = players
    hostile = "<script>window.pwned=1</script> 4"
    match = settle(space, tier, [alice, bob], agent_factory, lambda r, i: hostile)
    body = body_of(client, match)
    assert "<script>window.pwned" not in body and "&lt;script&gt;window.pwned" in body
