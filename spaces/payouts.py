"""How a space's payout schedule applies to one match's ranking (pure functions).

Turning these exact shares into whole credits, and where rounding remainders go, is the
settlement's job (arena); this module only says who is owed what fraction of the pot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction


def shares_for_ranks(shares: Sequence[Decimal | str], ranks: Sequence[int]) -> list[Fraction]:
    """Each agent's exact share of the pot, in the order of ``ranks`` (1 = best; equal ranks are
    ties). Tied agents split the shares of the places they occupy together: two agents tied for
    first under ["0.6", "0.3", "0.1"] get (0.6 + 0.3) / 2 each, the next one 0.1. Places past the
    schedule get nothing. Only the order of the rank values matters (1,1,3 and 1,1,2 agree)."""
    if any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ranks):
        raise ValueError(f"ranks must be integers >= 1, not {list(ranks)}")
    exact = [Fraction(Decimal(str(s))) for s in shares]
    counts = Counter(ranks)
    owed: dict[int, Fraction] = {}
    place = 0  # places taken by better-ranked agents
    for rank in sorted(counts):
        k = counts[rank]
        owed[rank] = sum(exact[place : place + k], Fraction(0)) / k
        place += k
    return [owed[r] for r in ranks]
