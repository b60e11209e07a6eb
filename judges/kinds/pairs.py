"""What the pairwise judges (``pairwise-llm``, ``http-llm``) share: which pairs of a match need
the judge, the two orders each such pair is shown in, and round-robin points."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

# (first, second) -> the judge's conversation with ``first`` shown as A and ``second`` as B.
Conversation = Callable[[str, str], list[dict]]


def shortcut(a: str, b: str) -> dict[str, Any] | None:
    """A pair that needs no judge: {"winner": "a" | "b" | None, "by": why}, else None.
    Identical answers (after trimming) tie; a blank answer loses to a non-blank one."""
    if a.strip() == b.strip():
        return {"winner": None, "by": "identical"}
    if not a.strip() or not b.strip():
        return {"winner": "a" if a.strip() else "b", "by": "blank"}
    return None


def plan_pairs(
    answers: list[str], conversation: Conversation
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[list[dict]]]:
    """Every pair of the round robin, the pairs the judge must decide, and their conversations:
    two per such pair, a shown first then b shown first (``orders``)."""
    pairs: list[dict[str, Any]] = []
    asked: list[dict[str, Any]] = []
    conversations: list[list[dict]] = []
    for i, j in combinations(range(len(answers)), 2):
        pair: dict[str, Any] = {"a": i, "b": j}
        found = shortcut(answers[i], answers[j])
        if found:
            pair.update(found, winner={"a": i, "b": j, None: None}[found["winner"]])
        else:
            pair["orders"] = [[i, j], [j, i]]  # answer indexes shown as [A, B], per order
            conversations.append(conversation(answers[i], answers[j]))
            conversations.append(conversation(answers[j], answers[i]))
            asked.append(pair)
        pairs.append(pair)
    return pairs, asked, conversations


def round_robin_points(pairs: list[dict[str, Any]], count: int) -> list[float]:
    """Copeland with half points: 1 per pair won, 1/2 per pair tied."""
    points = [0.0] * count
    for pair in pairs:
        if pair["winner"] is None:
            points[pair["a"]] += 0.5
            points[pair["b"]] += 0.5
        else:
            points[pair["winner"]] += 1.0
    return points


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


def order_votes(record: dict[str, Any], prior: float | None) -> tuple[int, int] | None:
    """What each of the two orders of a pairwise record says on its own: +1 for answer ``a``,
    -1 for ``b``, 0 for neither; None when the record holds no per-order reading (a shortcut
    pair, or a malformed one).

    With the judge's position prior and the record's label log-odds (pairwise-llm from version
    2), each order is read net of the prior: order 1 shows a as A and prefers a when
    ``l_ab - prior > 0``; order 2 shows b as A and prefers a when ``prior - l_ba > 0``. A model
    that says "A" whatever it is shown then votes for neither answer by position. Without them
    (version 1, http-llm) each order is read raw from its label probabilities ``p_ab``/``p_ba``
    ([P(A), P(B)]). The one reading every consumer (the judge's ``orders_agree``, the pairs'
    agreement, the bias report) uses."""
    l_ab, l_ba = record.get("l_ab"), record.get("l_ba")
    if isinstance(prior, int | float) and isinstance(l_ab, int | float):
        if isinstance(l_ba, int | float):
            return sign(l_ab - prior), sign(prior - l_ba)
    p_ab, p_ba = record.get("p_ab"), record.get("p_ba")
    if not (isinstance(p_ab, list) and isinstance(p_ba, list) and len(p_ab) == len(p_ba) == 2):
        return None
    return sign(p_ab[0] - p_ab[1]), sign(p_ba[1] - p_ba[0])


def raw_order_votes(record: dict[str, Any]) -> tuple[int, int] | None:
    """The two orders' votes read raw, as the judge saw them, position bias included."""
    return order_votes(record, None)
