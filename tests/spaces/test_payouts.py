"""Payout schedule applied to a ranking, ties included."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from spaces.payouts import shares_for_ranks

SCHEDULE = ["0.6", "0.3", "0.1"]


def test_it_pays_by_place():
    assert shares_for_ranks(SCHEDULE, [2, 1, 4, 3]) == [F(3, 10), F(6, 10), 0, F(1, 10)]


def test_it_splits_tied_places_shares():
    assert shares_for_ranks(SCHEDULE, [1, 1, 3, 4]) == [F(9, 20), F(9, 20), F(1, 10), 0]
    assert shares_for_ranks(SCHEDULE, [1, 2, 2, 2]) == [F(6, 10), F(2, 15), F(2, 15), F(2, 15)]
    # dense ranks mean the same ranking
    assert shares_for_ranks(SCHEDULE, [1, 1, 2]) == shares_for_ranks(SCHEDULE, [1, 1, 3])


def test_it_keeps_the_total_exact_when_every_place_is_filled():
    for ranks in ([1, 1, 1], [1, 2, 2], [3, 1, 2], [1, 1, 1, 1]):
        assert sum(shares_for_ranks(SCHEDULE, ranks)) == 1


@pytest.mark.parametrize("ranks", [[0, 1], [1, -2], [1, True], [1.0, 2]])
def test_it_refuses_bad_ranks(ranks):
    with pytest.raises(ValueError, match="ranks"):
        shares_for_ranks(SCHEDULE, ranks)
