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
