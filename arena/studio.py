"""The payout preview of the space editor (the creator's studio): who gets what for a pot and a
ranking under the shares and rakes being edited, computed by the settlement's own rule
(``arena.services.payouts.split_pot``), so the preview is what a match would pay."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from arena.services.payouts import split_pot
from spaces.forms import PLACES, place_name
from spaces.models import BPS
from spaces.payouts import shares_for_ranks

MAX_PREVIEW_POT = 10**12


class PreviewError(ValueError):
    """What was typed cannot be previewed; the message names the field in words."""


@dataclass(frozen=True)
class PreviewRow:
    seat: int  # 1-based, in the order the ranking was typed
    rank: int
    share: str  # of the prize pool, as a percentage
    credits: int


@dataclass(frozen=True)
class PayoutPreview:
    pot: int
    creator_rake: int
    platform_rake: int
    pool: int
    rows: list[PreviewRow]


def _percent(text: str | None, what: str) -> Decimal | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise PreviewError(f"{what}: {text!r} is not a percentage") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise PreviewError(f"{what} must be a percentage from 0 to 100, not {text}")
    return value


def _whole(text: str | None, what: str, *, low: int, high: int) -> int:
    text = (text or "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise PreviewError(f"{what} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def parse_ranking(text: str | None, seats: int) -> list[int]:
    """ "1, 2, 2, 4" -> [1, 2, 2, 4]; empty: every seat its own place, 1 to ``seats``."""
    text = (text or "").strip()
    if not text:
        return list(range(1, seats + 1))
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not 1 <= len(parts) <= PLACES or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise PreviewError(
            f"Ranking must list 1 to {PLACES} places (whole numbers from 1) separated by "
            f"commas, such as 1, 2, 2, 4 (a tie shares a number); not {text!r}"
        )
    return [int(p) for p in parts]


def payout_preview(
    *,
    pot: str | None,
    ranking: str | None,
    shares: list[str | None],
    creator_rake: str | None,
    platform_rake: str | None,
    seats: int,
) -> PayoutPreview:
    """``shares``, ``creator_rake`` and ``platform_rake`` are percentages as typed in the
    editor; ``seats`` the agents per match (the ranking's default length)."""
    pot_credits = _whole(pot, "Pot", low=0, high=MAX_PREVIEW_POT)
    ranks = parse_ranking(ranking, seats)
    values = [_percent(s, f"{place_name(i).capitalize()} share") for i, s in enumerate(shares, 1)]
    while values and values[-1] is None:
        values.pop()
    if not values or None in values:
        raise PreviewError("Payout shares: fill in the places from 1st on (0 is fine)")
    if sum(values) != 100:
        raise PreviewError(
            f"Payout shares add up to {sum(values).normalize():f}%; they must add up to "
            "exactly 100%"
        )
    rakes = []
    for text, what in ((creator_rake, "Creator rake"), (platform_rake, "Platform rake")):
        value = _percent(text, what) or Decimal(0)
        if value * 100 != (value * 100).to_integral_value():
            raise PreviewError(f"{what}: at most 2 decimal places (0.01%)")
        rakes.append(int(value * 100))
    if sum(rakes) > BPS // 2:
        raise PreviewError("Creator and platform rakes together must be at most 50% of the pot")
    split = split_pot(
        pot=pot_credits,
        ranks=ranks,
        shares=[str(v / 100) for v in values],
        creator_rake_bps=rakes[0],
        platform_rake_bps=rakes[1],
    )
    share_of = _seat_percentages(values, ranks)
    rows = [
        PreviewRow(seat=i + 1, rank=rank, share=share_of[i], credits=credits)
        for i, (rank, credits) in enumerate(zip(ranks, split.payouts, strict=True))
    ]
    rows.sort(key=lambda row: (row.rank, row.seat))
    return PayoutPreview(
        pot=pot_credits,
        creator_rake=split.creator_rake,
        platform_rake=split.platform_rake,
        pool=pot_credits - split.creator_rake - split.platform_rake,
        rows=rows,
    )


def _seat_percentages(values: list[Decimal], ranks: list[int]) -> list[str]:
    fractions = shares_for_ranks([str(v / 100) for v in values], ranks)
    return [f"{float(f) * 100:.4g}%" for f in fractions]
