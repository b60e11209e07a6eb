"""The rounding rule of pot splits (arena.services.payouts), pure arithmetic."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arena.services.payouts import seat_shares, split_pot


def test_it_takes_rakes_by_floor_and_pays_the_rest_by_rank():
    split = split_pot(
        pot=1000, ranks=[2, 1], shares=["0.7", "0.3"], creator_rake_bps=500, platform_rake_bps=250
    )
    assert (split.creator_rake, split.platform_rake) == (50, 25)
    # pool 925: first 647.5 -> 647 (+1 remainder, best rank first), second 277.5 -> 277
    assert split.payouts == [277, 648]
    assert split.total() == 1000


def test_it_splits_tied_places_equally():
    shares = seat_shares(ranks=[1, 1, 3], shares=["0.5", "0.3", "0.2"])
    assert shares == [Decimal("0.4"), Decimal("0.4"), Decimal("0.2")]
    split = split_pot(
        pot=101,
        ranks=[1, 1, 3],
        shares=["0.5", "0.3", "0.2"],
        creator_rake_bps=0,
        platform_rake_bps=0,
    )
    # 40.4, 40.4, 20.2 -> 40, 40, 20, remainder 1 to the best rank, lowest seat first
    assert split.payouts == [41, 40, 20]


def test_it_pays_nothing_to_places_past_the_schedule():
    split = split_pot(
        pot=300, ranks=[3, 1, 2], shares=["1"], creator_rake_bps=0, platform_rake_bps=0
    )
    assert split.payouts == [0, 300, 0]


def test_it_refuses_shares_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="sum"):
        split_pot(
            pot=10, ranks=[1, 2], shares=["0.5", "0.4"], creator_rake_bps=0, platform_rake_bps=0
        )


@given(
    pot=st.integers(min_value=0, max_value=10**12),
    ranks=st.lists(st.integers(min_value=1, max_value=8), min_size=2, max_size=8),
    creator=st.integers(min_value=0, max_value=2500),
    platform=st.integers(min_value=0, max_value=2500),
)
def test_it_always_sums_to_the_pot_exactly(pot, ranks, creator, platform):
    shares = ["0.5", "0.3", "0.2"][: len(ranks)]
    if len(ranks) == 2:
        shares = ["0.6", "0.4"]
    split = split_pot(
        pot=pot, ranks=ranks, shares=shares, creator_rake_bps=creator, platform_rake_bps=platform
    )
    assert split.total() == pot
    assert all(p >= 0 for p in split.payouts)
