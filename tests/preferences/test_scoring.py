"""Votes of a pairwise judge's two orders, read net of its position prior."""

from __future__ import annotations

import math

from judges.kinds.pairs import order_votes, raw_order_votes
from preferences.scoring import compare, judge_scores


def pairwise_verdict(l_ab: float, l_ba: float, prior: float | None, winner: int | None = 0):
    def probs(log_odds):
        p = 1 / (1 + math.exp(-log_odds))
        return [p, 1 - p]

    details = {
        "pairs": [
            {
                "a": 0,
                "b": 1,
                "winner": winner,
                "l_ab": l_ab,
                "l_ba": l_ba,
                "p_ab": probs(l_ab),
                "p_ba": probs(l_ba),
            }
        ]
    }
    if prior is not None:
        details["prior"] = {"log_odds": prior, "source": "probe"}
    points = [1, 0] if winner == 0 else [0, 1] if winner == 1 else [0.5, 0.5]
    return (
        1,
        "pairwise-llm",
        {"points": points, "max_points": 1, "config": {}, "details": details},
    )


def test_a_judge_that_always_says_a_still_votes_by_content_net_of_its_prior():
    # Both orders say "A" (positive log-odds), but less so when answer 1 is shown first: net of
    # the prior (2.0), both orders prefer answer 0.
    [judge] = judge_scores([pairwise_verdict(l_ab=2.4, l_ba=1.7, prior=2.0)], answers=2)
    assert compare([judge], chosen=0, rejected=1).agreed == 2
    assert compare([judge], chosen=0, rejected=1).votes == 2


def test_without_a_stored_prior_raw_probabilities_vote_as_before():
    [judge] = judge_scores([pairwise_verdict(l_ab=2.4, l_ba=1.7, prior=None)], answers=2)
    # raw: order 1 says A (= answer 0), order 2 says A (= answer 1): one vote each way
    assert compare([judge], chosen=0, rejected=1).agreed == 1


def test_a_shadow_judge_neither_makes_the_margin_nor_votes():
    verifier = (2, "verifier", {"points": [1, 0], "max_points": 1, "config": {}})
    _, kind, data = pairwise_verdict(l_ab=-2.0, l_ba=2.0, prior=0.0, winner=1)
    shadow = (3, kind, {**data, "config": {"kind": kind, "shadow": True}})
    judges = judge_scores([verifier, shadow], answers=2)
    assert [j.kind for j in judges] == ["verifier"]
    comparison = compare(judges, chosen=0, rejected=1)
    assert (comparison.margin, comparison.agreed, comparison.votes) == (1, 1, 1)


def test_each_order_reads_the_same_for_every_consumer():
    record = pairwise_verdict(l_ab=2.4, l_ba=1.7, prior=2.0)[2]["details"]["pairs"][0]
    assert order_votes(record, 2.0) == (1, 1)  # net of the prior: both orders prefer a
    assert raw_order_votes(record) == (1, -1)  # raw: each order picks the answer shown first
    assert order_votes({"a": 0, "b": 1, "winner": None, "by": "identical"}, 2.0) is None
