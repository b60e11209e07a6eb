"""What a match's stored verdicts say about two of its answers: the margin between them and how
many judges (and orders of a pairwise judge) agreed.

Read from ``judges.Verdict.data`` as ``judges.panel.run_panel`` stores it: ``points`` and
``max_points`` per judge, the judge's ``config`` (its ``weight``, 1 when absent), and for a
pairwise judge ``details["pairs"]``: one record per pair of answers ``{"a": i, "b": j, "winner":
i | j | None, "p_ab": [P(A), P(B)] with i shown as A, "p_ba": [P(A), P(B)] with j shown as A}``,
and from version 2 on the label log-odds ``l_ab``/``l_ba`` and, in ``details["prior"]``, the
judge model's position prior (``log_odds``), which an order's vote is read net of.
The totals follow the panel's rule exactly (fractions): each judge's points over its maximum,
times its weight, summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from judges.kinds.pairs import order_votes


class VerdictShapeError(ValueError):
    """A stored verdict does not have the layout this module reads."""


@dataclass(frozen=True)
class JudgeScores:
    verdict_id: int
    kind: str
    weight: int
    scores: list[Fraction]  # per answer, points / max_points, in [0, 1]
    pairs: list[dict[str, Any]]  # a pairwise judge's per-pair records, else empty
    prior: float | None = None  # a pairwise judge's position prior (log-odds of "A"), if stored


@dataclass(frozen=True)
class Comparison:
    margin: Fraction  # (total of chosen - total of rejected) / total weight
    agreed: int  # votes for the chosen answer
    votes: int  # votes cast
    deciding_kinds: list[str]  # kinds of the judges that scored the chosen answer higher


def judge_scores(verdicts: Sequence[tuple[int, str, dict]], answers: int) -> list[JudgeScores]:
    """``verdicts`` as (id, judge kind, data) in panel order; shadow judges (measured, never
    counted) are left out, as the panel left them out of its ranking."""
    out = []
    for verdict_id, kind, data in verdicts:
        if (data.get("config") or {}).get("shadow") is True:
            continue
        points = data.get("points")
        max_points = data.get("max_points")
        if not isinstance(points, list) or len(points) != answers:
            raise VerdictShapeError(
                f"verdict {verdict_id} scores {points!r}, not {answers} answers"
            )
        try:
            maximum = Fraction(max_points)
            scores = [Fraction(p) / maximum if maximum else Fraction(0) for p in points]
        except (TypeError, ValueError) as exc:
            raise VerdictShapeError(f"verdict {verdict_id}: {exc}") from None
        weight = (data.get("config") or {}).get("weight", 1)
        details = data.get("details") or {}
        pairs = details.get("pairs") or []
        prior = (details.get("prior") or {}).get("log_odds")
        out.append(
            JudgeScores(
                verdict_id=verdict_id,
                kind=kind,
                weight=int(weight),
                scores=scores,
                pairs=pairs if isinstance(pairs, list) else [],
                prior=float(prior) if isinstance(prior, int | float) else None,
            )
        )
    return out


def totals(judges: Sequence[JudgeScores], answers: int) -> list[Fraction]:
    """Each answer's combined score, as the panel ranked them."""
    return [sum((j.weight * j.scores[i] for j in judges), Fraction(0)) for i in range(answers)]


def _order_votes(
    record: dict[str, Any], chosen: int, prior: float | None
) -> tuple[int, int] | None:
    """(votes for ``chosen``, orders) from a pairwise record's two orders, each read net of the
    judge's prior where it is stored (``judges.kinds.pairs.order_votes``), or None when the
    record holds no per-order reading (identical or blank answers need no model)."""
    votes = order_votes(record, prior)
    if votes is None:
        return None
    for_chosen = 1 if record.get("a") == chosen else -1
    return sum(vote == for_chosen for vote in votes), 2


def _judge_votes(judge: JudgeScores, chosen: int, rejected: int) -> tuple[int, int]:
    for record in judge.pairs:
        if isinstance(record, dict) and {record.get("a"), record.get("b")} == {chosen, rejected}:
            orders = _order_votes(record, chosen, judge.prior)
            if orders is not None:
                return orders
            return int(record.get("winner") == chosen), 1
    return int(judge.scores[chosen] > judge.scores[rejected]), 1


def compare(judges: Sequence[JudgeScores], chosen: int, rejected: int) -> Comparison:
    """How much and how unanimously the panel preferred answer ``chosen`` to ``rejected``."""
    weight = sum(j.weight for j in judges)
    every = totals(judges, max(chosen, rejected) + 1)
    margin = (every[chosen] - every[rejected]) / weight if weight else Fraction(0)
    agreed = votes = 0
    for judge in judges:
        a, n = _judge_votes(judge, chosen, rejected)
        agreed += a
        votes += n
    deciding = sorted(
        {j.kind for j in judges if j.scores[chosen] > j.scores[rejected]},
    )
    return Comparison(margin=margin, agreed=agreed, votes=votes, deciding_kinds=deciding)
