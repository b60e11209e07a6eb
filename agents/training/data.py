"""Preference pairs as the trainer takes them, and the order in which it sees them.

A pair is a dict with ``prompt``, ``chosen`` and ``rejected`` (non-blank strings) and an optional
``system`` (the system prompt the agent answers under). Other keys (ids, hashes) are ignored.

The order is decided here, up front, not by the trainer's sampler: per epoch, the pair indices
sorted by ``sha256("arena-dpo-order:{seed}:{epoch}:{index}")``. Anyone can recompute it without
Python's or numpy's RNG, and a proof record commits to it. Batch ``s`` (0-based) is
``order[s * batch_size:(s + 1) * batch_size]``.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from agents.training.errors import TrainingError
from agents.training.settings import TrainSettings

TEXT_FIELDS = ("prompt", "chosen", "rejected")


def validate_pairs(pairs: Any) -> None:
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise TrainingError("training needs at least one preference pair")
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            raise TrainingError(f"pair {index} is not a mapping of prompt, chosen and rejected")
        for name in TEXT_FIELDS:
            value = pair.get(name)
            if not isinstance(value, str) or not value.strip():
                raise TrainingError(f"pair {index}: {name} must be a non-empty string")
        system = pair.get("system")
        if system is not None and not isinstance(system, str):
            raise TrainingError(f"pair {index}: system must be a string")
        if pair["chosen"].strip() == pair["rejected"].strip():
            raise TrainingError(f"pair {index}: chosen and rejected are the same answer")


def chat_row(pair: dict) -> dict[str, list[dict[str, str]]]:
    """TRL's conversational preference layout: the chat the agent answers (as inference builds
    it: the system prompt when set, then the task), and each answer as one assistant turn."""
    prompt = []
    if (pair.get("system") or "").strip():
        prompt.append({"role": "system", "content": pair["system"]})
    prompt.append({"role": "user", "content": pair["prompt"]})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": pair["chosen"]}],
        "rejected": [{"role": "assistant", "content": pair["rejected"]}],
    }


def epoch_order(count: int, *, seed: int, epoch: int) -> list[int]:
    def rank(index: int) -> bytes:
        return hashlib.sha256(f"arena-dpo-order:{seed}:{epoch}:{index}".encode()).digest()

    return sorted(range(count), key=rank)


def planned_order(count: int, settings: TrainSettings) -> list[int]:
    """Every pair index in the order training sees it: the epochs one after the other, cut
    where ``max_steps`` ends the run."""
    order = [
        i
        for epoch in range(settings.epochs)
        for i in epoch_order(count, seed=settings.seed, epoch=epoch)
    ]
    if settings.max_steps is not None:
        order = order[: settings.max_steps * settings.batch_size]
    return order


def total_steps(order_length: int, batch_size: int) -> int:
    return math.ceil(order_length / batch_size)


def check_order(order: Any, pair_count: int) -> None:
    if not isinstance(order, (list, tuple)) or not order:
        raise TrainingError("the data order is empty")
    if not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < pair_count for i in order
    ):
        raise TrainingError(f"the data order names pairs outside 0..{pair_count - 1}")
