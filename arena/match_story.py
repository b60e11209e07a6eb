"""A judged or settled match told in sentences, for its page: the reference answer, what each
judge decided (in words and numbers), the ranking, the payout rule as it was applied, and the
rating changes.

Reads only what is stored (the verdicts as ``arena.selectors.verdicts_for`` lets the viewer see
them, the seats, the match's terms and rakes) and returns plain strings; the template shows them
as they are, so no stored dict ever reaches a page. Judge kinds this module does not know are
told by their points alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from arena.services.answer_policy import forfeits, standing_group
from arena.services.payouts import BPS, _shares_without, seat_shares, split_pot, terms_for
from judges.models import ordinal_of

VERIFIER_MODES = {
    "exact": ("exact match", "not an exact match of the reference"),
    "numeric": ("the number matches the reference", "the number does not match the reference"),
    "regex": ("matches the pattern", "does not match the pattern"),
    "json_schema": ("valid against the schema", "not valid against the schema"),
}
# Why a pairwise judge decided a pair without its model (judges.kinds.pairs.shortcut).
SHORTCUTS = {"identical": "the answers are identical", "blank": "one answer is blank"}
MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class JudgeStory:
    title: str  # "judge 1: verifier in mode numeric, weight 1"
    counted: str  # how its points count ("counted with weight 2" / "shadow: not counted")
    shadow: bool
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MatchStory:
    reference: str  # "" when the space has none to show
    judges: list[JudgeStory]
    ranking: list[str]
    payout: list[str]  # empty until the match is settled
    ratings: list[str]
    ratings_note: str = ""


def ordinal_words(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percent(value: Fraction | float) -> str:
    number = float(value) * 100
    return f"{number:.0f}%" if abs(number - round(number)) < 1e-9 else f"{number:.2f}%"


def _num(value: Any) -> str:
    return f"{float(value):.4g}" if isinstance(value, int | float) else str(value)


def _cut(text: Any) -> str:
    text = str(text)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


class _Seats:
    """Seat names as every sentence uses them: "seat 1 (alpha)"."""

    def __init__(self, seats: Sequence):
        self.seats = list(seats)

    def name(self, index: Any) -> str:
        if isinstance(index, int) and 0 <= index < len(self.seats):
            return f"seat {index + 1} ({self.seats[index].agent.name})"
        return f"answer {index}"

    def __len__(self) -> int:
        return len(self.seats)


# --- judges ----------------------------------------------------------------------------------


def judge_story(verdict: dict[str, Any], seats: _Seats) -> JudgeStory:
    kind = verdict.get("judge_kind", "")
    data = verdict.get("data") or {}
    config = data.get("config") or {}
    details = data.get("details") or {}
    number = int(data.get("index", 0)) + 1
    shadow = bool(config.get("shadow"))
    weight = config.get("weight", 1)
    label = f"verifier in mode {config.get('mode')}" if kind == "verifier" else kind
    lines = _DESCRIBE.get(kind, _describe_points)(data, details, seats)
    return JudgeStory(
        title=f"judge {number}: {label}",
        counted="shadow: not counted" if shadow else f"counted with weight {weight}",
        shadow=shadow,
        lines=lines,
    )


def _points_of(data: dict[str, Any], index: int) -> str:
    points, most = data.get("points") or [], data.get("max_points")
    if index >= len(points):
        return "no points"
    return f"{_num(points[index])} of {_num(most)} points"


def _describe_points(data, details, seats: _Seats) -> list[str]:
    return [f"{seats.name(i)}: {_points_of(data, i)}" for i in range(len(seats))]


def _describe_verifier(data, details, seats: _Seats) -> list[str]:
    mode = details.get("mode", "")
    checks = details.get("answers") or []
    if mode == "tests":
        return _describe_tests(details, checks, seats)
    right, wrong = VERIFIER_MODES.get(mode, ("correct", "wrong"))
    lines = []
    for i, check in enumerate(checks):
        if not isinstance(check, dict):
            continue
        read = f"read {check['parsed']}; " if check.get("parsed") else ""
        if check.get("correct"):
            lines.append(f"{seats.name(i)}: correct ({read}{right})")
        else:
            why = _cut(check["reason"]) if check.get("reason") else wrong
            lines.append(f"{seats.name(i)}: wrong ({read}{why})")
    return lines


def _describe_tests(details, checks, seats: _Seats) -> list[str]:
    total = int(details.get("tests") or 0)
    lines = []
    for i, check in enumerate(checks):
        if not isinstance(check, dict):
            continue
        results = [r for r in check.get("tests") or [] if isinstance(r, dict)]
        passed = [n + 1 for n, r in enumerate(results) if r.get("passed")]
        failed = [(n + 1, r) for n, r in enumerate(results) if not r.get("passed")]
        line = f"{seats.name(i)}: {len(passed)} of {total} tests passed"
        parts = []
        if passed:
            parts.append("passed " + ", ".join(f"test {n}" for n in passed))
        for n, result in failed:
            why = str(result.get("reason") or "failed")
            if result.get("message"):  # the answer's own output: only its stakeholders see it
                why += f": {_cut(result['message'])}"
            parts.append(f"test {n} failed ({why})")
        lines.append(line + (" — " + "; ".join(parts) if parts else ""))
    return lines


def _order_probability(pair: dict[str, Any], winner: int) -> tuple[float, float] | None:
    """P(winner) with the winner shown first, and shown second (p_ab: a shown first)."""
    p_ab, p_ba = pair.get("p_ab"), pair.get("p_ba")
    if not (isinstance(p_ab, list) and isinstance(p_ba, list) and len(p_ab) == len(p_ba) == 2):
        return None
    if winner == pair.get("a"):
        return p_ab[0], p_ba[1]
    return p_ba[0], p_ab[1]


def _describe_pairwise(data, details, seats: _Seats) -> list[str]:
    lines = []
    tie_margin = details.get("tie_margin")
    for pair in details.get("pairs") or []:
        if not isinstance(pair, dict):
            continue
        a, b, winner, by = pair.get("a"), pair.get("b"), pair.get("winner"), pair.get("by")
        if by in SHORTCUTS:
            if winner is None:
                lines.append(
                    f"{seats.name(a)} and {seats.name(b)} tie: {SHORTCUTS[by]} (model not asked)"
                )
            else:
                loser = b if winner == a else a
                lines.append(
                    f"preferred {seats.name(winner)} over {seats.name(loser)}: "
                    f"{SHORTCUTS[by]} (model not asked)"
                )
            continue
        margin = pair.get("margin")
        margin_text = f"margin {abs(margin):.2f} nats" if isinstance(margin, int | float) else ""
        orders = "shown in both orders: " + ("agreed" if pair.get("orders_agree") else "disagreed")
        if winner is None:
            threshold = f", below the tie threshold {tie_margin:g}" if tie_margin else ""
            lines.append(
                f"could not separate {seats.name(a)} and {seats.name(b)} "
                f"({margin_text}{threshold}): a tie; {orders}"
            )
            continue
        loser = b if winner == a else a
        sentence = f"preferred {seats.name(winner)} over {seats.name(loser)}"
        probabilities = _order_probability(pair, winner)
        if probabilities is not None:
            first, second = probabilities
            sentence += (
                f" with probability {(first + second) / 2:.2f} "
                f"({first:.2f} shown first, {second:.2f} shown second"
                + (f"; {margin_text})" if margin_text else ")")
            )
        elif margin_text:
            sentence += f" ({margin_text})"
        lines.append(f"{sentence}; {orders}")
    return lines


HTTP_REASONS = {
    "endpoint": "both orders named it",
    "no-verdict": "no verdict after retries: a tie",
    "orders-disagreed": "the two orders disagreed: a tie",
}


def _describe_http(data, details, seats: _Seats) -> list[str]:
    lines = []
    for pair in details.get("pairs") or []:
        if not isinstance(pair, dict):
            continue
        a, b, winner, by = pair.get("a"), pair.get("b"), pair.get("winner"), pair.get("by")
        why = HTTP_REASONS.get(by) or SHORTCUTS.get(by) or str(by)
        if winner is None:
            lines.append(f"{seats.name(a)} and {seats.name(b)}: {why}")
        else:
            loser = b if winner == a else a
            lines.append(f"preferred {seats.name(winner)} over {seats.name(loser)} ({why})")
    return lines


def _describe_score(data, details, seats: _Seats) -> list[str]:
    lines = []
    for i, check in enumerate(details.get("answers") or []):
        if isinstance(check, dict) and isinstance(check.get("score"), int | float):
            lines.append(f"{seats.name(i)}: scored {check['score']:.2f} of 10")
    return lines or _describe_points(data, details, seats)


_DESCRIBE = {
    "verifier": _describe_verifier,
    "pairwise-llm": _describe_pairwise,
    "http-llm": _describe_http,
    "score-llm": _describe_score,
}


# --- ranking, payout, ratings -----------------------------------------------------------------


def ranking_lines(seats: Sequence) -> list[str]:
    named = _Seats(seats)
    by_rank: dict[int, list[int]] = {}
    for i, seat in enumerate(seats):
        if seat.rank is not None:
            by_rank.setdefault(seat.rank, []).append(i)
    lines = []
    for rank in sorted(by_rank):
        group = by_rank[rank]
        names = " and ".join(named.name(i) for i in group)
        place = ordinal_words(rank)
        line = f"tied {place}: {names}" if len(group) > 1 else f"{place}: {names}"
        notes = [f"ranked last: {seats[i].violation}" for i in group if seats[i].violation]
        notes += [f"{named.name(i)} addressed the judge" for i in group if seats[i].injection]
        lines.append(line + (" (" + "; ".join(notes) + ")" if notes else ""))
    return lines


def payout_lines(match, seats: Sequence) -> list[str]:
    """The pot rule (``arena.services.payouts.PAYOUT_RULE``) with this match's numbers."""
    terms = terms_for(match)
    creator_bps, platform_bps = terms["creator_rake_bps"], terms["platform_rake_bps"]
    pool = match.pot - match.creator_rake - match.platform_rake
    lines = [
        f"pot {match.pot} = fees {match.fees} + subsidy {match.subsidy}",
        f"creator rake {percent(Fraction(creator_bps, BPS))} = {match.creator_rake}, "
        f"platform rake {percent(Fraction(platform_bps, BPS))} = {match.platform_rake}",
    ]
    ranked = [s for s in seats if s.rank is not None]
    if len(ranked) != len(seats):
        return lines + [f"prize pool {pool}"]
    ranks = [s.rank for s in seats]
    policy = match.space.rule("injection_policy")
    out = forfeits([standing_group(s, policy) for s in seats])
    shares = terms["payout_shares"]
    fractions = _fractions(ranks, shares, out)
    named = _Seats(seats)
    order = sorted(range(len(seats)), key=lambda i: (ranks[i], i))
    parts = []
    for i in order:
        seat = seats[i]
        tied = ranks.count(ranks[i]) > 1
        place = ("tied " if tied else "") + ordinal_words(ranks[i])
        if out[i] and any(not f for f in out):
            parts.append(f"{place} {named.name(i)}: disqualified, forfeits its prize = 0")
            continue
        share = fractions[i] if fractions is not None else None
        text = f"{place} {named.name(i)}"
        text += f" {percent(share)} = {seat.payout}" if share is not None else f" = {seat.payout}"
        if share is not None and seat.payout == int(pool * share) + 1:
            text += " (incl. 1 credit the rounding left)"
        parts.append(text)
    lines.append(f"prize pool {pool}: " + ", ".join(parts))
    if fractions is not None and _recomputed(match, ranks, shares, out) != [
        s.payout for s in seats
    ]:
        lines.append("the stored payouts differ from the rule applied to these ranks")
    return lines


def _fractions(ranks, shares, out) -> list[Fraction] | None:
    try:
        if any(out) and not all(out):
            return _shares_without(ranks=ranks, shares=shares, forfeit=out)
        return seat_shares(ranks=ranks, shares=shares)
    except (ValueError, ZeroDivisionError):
        return None


def _recomputed(match, ranks, shares, out) -> list[int] | None:
    terms = terms_for(match)
    try:
        split = split_pot(
            pot=match.pot,
            ranks=ranks,
            shares=shares,
            creator_rake_bps=terms["creator_rake_bps"],
            platform_rake_bps=terms["platform_rake_bps"],
            forfeit=out,
        )
    except (ValueError, ZeroDivisionError):
        return None
    return split.payouts


def _rating_text(value: Any) -> tuple[float, float] | None:
    if isinstance(value, dict) and isinstance(value.get("mu"), int | float):
        sigma = value.get("sigma")
        if isinstance(sigma, int | float):
            return float(value["mu"]), float(sigma)
    return None


def rating_lines(seats: Sequence, current: dict[int, Any]) -> tuple[list[str], str]:
    """Per seat: the rating change the settlement made, when the seat keeps it
    (``rating_before`` / ``rating_after``); else the agent's rating now."""
    named = _Seats(seats)
    lines, stored = [], True
    for i, seat in enumerate(seats):
        before = _rating_text(getattr(seat, "rating_before", None))
        after = _rating_text(getattr(seat, "rating_after", None))
        if before and after:
            change = ordinal_of(*after) - ordinal_of(*before)
            lines.append(
                f"{named.name(i)}: μ {before[0]:.2f} → {after[0]:.2f}, "
                f"σ {before[1]:.2f} → {after[1]:.2f}, "
                f"ordinal {ordinal_of(*before):.2f} → {ordinal_of(*after):.2f} ({change:+.2f})"
            )
            continue
        stored = False
        rating = current.get(seat.agent_id)
        if rating is not None:
            lines.append(
                f"{named.name(i)}: now μ {rating.mu:.2f}, σ {rating.sigma:.2f}, "
                f"ordinal {rating.ordinal:.2f} after {_matches(rating.matches_played)}"
            )
    note = "" if stored else "This match's own change is not stored; these are the ratings now."
    return lines, note


def _matches(n: int) -> str:
    return f"{n} match" if n == 1 else f"{n} matches"


def match_story(match, verdicts: list[dict[str, Any]], *, ratings=None) -> MatchStory | None:
    """The story of a match that has verdicts (judged, settling or settled); None before.
    ``verdicts``: as the viewer may see them (``selectors.verdicts_for``); ``ratings``: the
    current Rating of each agent by agent id (``selectors.match_ratings``)."""
    if not verdicts:
        return None
    seats = list(match.seats.all())
    named = _Seats(seats)
    settled = match.status == "settled"
    reference = ""
    if match.space.task_kind == "verifiable" and match.prompt.split == "train":
        reference = match.prompt.reference
    rating, note = rating_lines(seats, ratings or {}) if settled else ([], "")
    return MatchStory(
        reference=reference,
        judges=[judge_story(v, named) for v in verdicts],
        ranking=ranking_lines(seats),
        payout=payout_lines(match, seats) if settled else [],
        ratings=rating,
        ratings_note=note,
    )
