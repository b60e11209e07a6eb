"""Reading a judge model's label probabilities: one batched call, checked, as log-odds.

LLM judges never parse generated text from the local model: they read the probabilities of a few
labels ("A"/"B", the digits "0".."9") as the model's next token
(``agents.inference.local.label_probabilities_batch`` through
``judges.kinds.pairwise_llm.default_label_probabilities_batch``, or what the ``JudgeContext``
injects), for every conversation of a match in one call.
"""

from __future__ import annotations

import math

from judges.errors import JudgeRunError
from judges.kinds.base import LabelProbabilitiesBatch

# Probabilities are clamped to this before taking logs, so a label the model gives exactly 0
# (possible after float rounding, or from a stand-in model) yields a large finite log-odds
# (about 27.6 nats) instead of infinity.
MIN_PROBABILITY = 1e-12


def ask_labels(
    read: LabelProbabilitiesBatch, conversations: list[list[dict]], labels: list[str]
) -> list[list[float]]:
    """The probability of each label for each conversation, from ONE batched call of ``read``;
    JudgeRunError when the model returns something that is not one list of non-negative finite
    numbers per conversation, one number per label."""
    if not conversations:
        return []
    rows = read(conversations, labels)
    try:
        rows = [[float(p) for p in row] for row in rows]
    except (TypeError, ValueError):
        raise JudgeRunError(f"the judge model returned unusable probabilities {rows!r}") from None
    if len(rows) != len(conversations):
        raise JudgeRunError(
            f"the judge model returned {len(rows)} rows of probabilities for "
            f"{len(conversations)} conversations"
        )
    for row in rows:
        if len(row) != len(labels) or not all(math.isfinite(p) and p >= 0 for p in row):
            raise JudgeRunError(f"the judge model returned unusable probabilities {row!r}")
    return rows


def log_odds(first: float, second: float) -> float:
    """log(first / second) in nats, with both clamped to MIN_PROBABILITY."""
    return math.log(max(first, MIN_PROBABILITY)) - math.log(max(second, MIN_PROBABILITY))
