"""Splitting a match's pot. Pure integer arithmetic, no database. The rule is ``PAYOUT_RULE``
below, stated once: this module follows it and space pages show it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from spaces.payouts import shares_for_ranks

BPS = 10_000

PAYOUT_RULE = """\
1. pot = entry fees + sponsor subsidy.
2. creator rake = floor(pot * creator_rake_bps / 10000); platform rake likewise. What the floors
   leave stays in the prize pool, so rakes never round up against players.
3. prize pool = pot - both rakes. Places are 1st, 2nd, ...; place p is worth ``payout_shares[p]``
   (places past the list are worth 0). Agents tied at one rank share the places they occupy:
   k agents tied at rank r split the shares of places r..r+k-1 equally.
4. each agent gets floor(pool * its share), computed exactly with fractions; the credits those
   floors leave (fewer than the number of paid agents) go one each to the agents with a share,
   best rank first, then by seat order, until none is left. So the amounts sum to the pot exactly.
5. a disqualified answer (one that addressed the judge, in a space whose injection policy is
   "disqualify") ranks last and forfeits its prize: the other agents are placed among themselves
   and their shares are scaled up in proportion to fill the whole pool.
"""


@dataclass(frozen=True)
class PotSplit:
    pot: int
    creator_rake: int
    platform_rake: int
    payouts: list[int]  # per seat, in seat order

    def total(self) -> int:
        return self.creator_rake + self.platform_rake + sum(self.payouts)


def seat_shares(*, ranks: list[int], shares: list[Decimal | str]) -> list[Fraction]:
    """Each seat's exact share of the prize pool, ties splitting the places they occupy (the
    space's schedule, applied by ``spaces.payouts``)."""
    return shares_for_ranks(shares, ranks)


def _shares_without(
    *, ranks: list[int], shares: list[Decimal | str], forfeit: list[bool]
) -> list[Fraction]:
    """Rule 5: the seats that keep their prize, placed among themselves, their shares scaled to
    sum to 1; 0 for the others."""
    kept = [i for i, out in enumerate(forfeit) if not out]
    fractions = seat_shares(ranks=[ranks[i] for i in kept], shares=shares)
    scale = sum(fractions)
    result = [Fraction(0)] * len(ranks)
    for i, fraction in zip(kept, fractions, strict=True):
        result[i] = fraction / scale
    return result


def split_pot(
    *,
    pot: int,
    ranks: list[int],
    shares: list[Decimal | str],
    creator_rake_bps: int,
    platform_rake_bps: int,
    forfeit: Sequence[bool] | None = None,
) -> PotSplit:
    """``forfeit`` marks seats that win nothing (rule 5); when every seat forfeits, none does."""
    if pot < 0:
        raise ValueError("a pot is never negative")
    creator_rake = pot * creator_rake_bps // BPS
    platform_rake = pot * platform_rake_bps // BPS
    pool = pot - creator_rake - platform_rake
    forfeit = list(forfeit or [False] * len(ranks))
    if all(forfeit):
        forfeit = [False] * len(ranks)
    if any(forfeit):
        fractions = _shares_without(ranks=ranks, shares=shares, forfeit=forfeit)
    else:
        fractions = seat_shares(ranks=ranks, shares=shares)
    if sum(fractions) != 1:
        raise ValueError(f"payout shares sum to {sum(fractions)}, not 1")
    amounts = [int(pool * f) for f in fractions]  # int() of a non-negative Fraction floors
    remainder = pool - sum(amounts)
    order = sorted((i for i, f in enumerate(fractions) if f > 0), key=lambda i: (ranks[i], i))
    for i in order[:remainder]:
        amounts[i] += 1
    split = PotSplit(pot, creator_rake, platform_rake, amounts)
    assert split.total() == pot
    return split


def terms_of(space) -> dict:
    """The economics a match forms under, kept on the match (``Match.terms``): a match settles
    on the terms it was formed with, whatever the space's creator changes meanwhile."""
    return {
        "payout_shares": [str(share) for share in space.payout_shares],
        "creator_rake_bps": space.creator_rake_bps,
        "platform_rake_bps": space.platform_rake_bps,
        "subsidy": space.subsidy,
    }


def terms_for(match) -> dict:
    """The match's own terms; a match formed before terms were kept settles on the space's."""
    return match.terms or terms_of(match.space)
