"""What breaking a space's rules costs an answer, in ranks and in prizes.

Each seat stands in one of three groups, judged in this order:

- clean: keeps the content limits and does not address the judge;
- penalised: breaks a content limit (``spaces.answer_rules``), or addresses the judge
  (``judges.injection``) in a space whose ``injection_policy`` is "penalty" or "disqualify";
- disqualified: addresses the judge in a space whose policy is "disqualify".

Every group ranks after the one before it; within a group the panel's order and its ties stand.
A disqualified answer also forfeits its prize (``arena.services.payouts``, rule 5). Under the
policy "review" a flag costs nothing; staff see it on the seat.
"""

from __future__ import annotations

from collections.abc import Sequence

from arena.models import Seat
from judges.panel import competition_ranks

CLEAN, PENALISED, DISQUALIFIED = 0, 1, 2


def standing_group(seat: Seat, injection_policy: str) -> int:
    if seat.injection and injection_policy == "disqualify":
        return DISQUALIFIED
    if seat.violation or (seat.injection and injection_policy == "penalty"):
        return PENALISED
    return CLEAN


def rank_by_group(ranks: Sequence[int], groups: Sequence[int]) -> list[int]:
    """The panel's ``ranks`` with each group ranked after the groups before it."""
    if not any(groups):
        return list(ranks)
    return competition_ranks([(-g, -r) for r, g in zip(ranks, groups, strict=True)])


def forfeits(groups: Sequence[int]) -> list[bool]:
    return [group == DISQUALIFIED for group in groups]
