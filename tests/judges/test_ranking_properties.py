"""Properties of the ranking rule, over many random score tables."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from judges.panel import competition_ranks

totals = st.lists(
    st.fractions(min_value=0, max_value=10, max_denominator=12), min_size=1, max_size=8
)


@given(totals)
def test_it_ranks_equal_totals_equally_and_higher_totals_better(values: list[Fraction]):
    ranks = competition_ranks(values)
    assert min(ranks) == 1
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if a == b:
                assert ranks[i] == ranks[j]
            elif a > b:
                assert ranks[i] < ranks[j]


@given(totals)
def test_it_skips_the_places_that_ties_share(values: list[Fraction]):
    ranks = competition_ranks(values)
    # "1224": a rank r is held by k answers, and the next rank is r + k.
    for rank in set(ranks):
        held = ranks.count(rank)
        above = sorted(r for r in set(ranks) if r > rank)
        if above:
            assert above[0] == rank + held
