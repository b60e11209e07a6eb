"""Votes of a pairwise judge's two orders, read net of its position prior."""

from __future__ import annotations

import math

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
