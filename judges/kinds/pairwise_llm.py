"""``pairwise-llm``: the local model compares every pair of answers (RLAIF).

For each pair (i, j) the model is shown the task, the reference when there is one, and the two
answers labelled A and B, and asked which is better. We do not parse generated text: we read the
model's next-token probabilities of the labels "A" and "B" (``label_probabilities``). Models
favour a position, so the pair is asked twice, with the answers swapped; an answer wins the pair
only when both orders prefer it, and the pair is a tie when the orders disagree (or a order has
the two labels exactly level).

Two pairs need no model: identical answers (after trimming) tie, and a blank answer loses to a
non-blank one. Points per answer: 1 per pair won, 1/2 per pair tied (Copeland with half points),
out of ``len(answers) - 1``.

Config (``judges.config.PairwiseLLMConfig``): ``instructions`` (optional system prompt for the
judge, replacing the default), ``max_answer_chars`` (answers are cut to this many characters in
the judge's prompt; 100 to 20000, default 2000).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

from judges.config import PairwiseLLMConfig
from judges.errors import JudgeRunError
from judges.kinds.base import Judge, JudgeResult, LabelProbabilities

LABELS = ["A", "B"]


def default_label_probabilities(messages: list[dict], labels: list[str]) -> list[float]:
    # Imported here: loading the inference stack (torch, transformers) is only needed when a
    # pairwise judge actually runs, and keeps ``judges`` importable without it.
    from agents.inference.local import label_probabilities

    return label_probabilities(messages, labels)


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " [...]"


def build_messages(
    *, instructions: str, prompt_text: str, reference: str, first: str, second: str, limit: int
) -> list[dict]:
    parts = [f"Task:\n{prompt_text.strip()}"]
    if reference.strip():
        parts.append(f"Reference answer:\n{reference.strip()}")
    parts.append(f"Answer A:\n{_cut(first, limit)}")
    parts.append(f"Answer B:\n{_cut(second, limit)}")
    parts.append("Which answer is better? Reply with A or B only.")
    return [
        {"role": "system", "content": instructions},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


class PairwiseLLMJudge(Judge):
    Config = PairwiseLLMConfig
    config: PairwiseLLMConfig

    @property
    def _label_probabilities(self) -> LabelProbabilities:
        return self.context.label_probabilities or default_label_probabilities

    def _ask(self, messages: list[dict]) -> list[float]:
        probs = self._label_probabilities(messages, LABELS)
        try:
            probs = [float(p) for p in probs]
        except (TypeError, ValueError):
            raise JudgeRunError(
                f"the judge model returned unusable probabilities {probs!r}"
            ) from None
        if len(probs) != 2 or not all(math.isfinite(p) and p >= 0 for p in probs):
            raise JudgeRunError(f"the judge model returned unusable probabilities {probs!r}")
        return probs

    def compare(self, *, prompt_text: str, reference: str, a: str, b: str) -> dict[str, Any]:
        """One pair: {"winner": "a" | "b" | None, "by": how, and the probabilities when asked}."""
        if a.strip() == b.strip():
            return {"winner": None, "by": "identical"}
        if not a.strip() or not b.strip():
            return {"winner": "a" if a.strip() else "b", "by": "blank"}
        ask = {
            "instructions": self.config.instructions,
            "prompt_text": prompt_text,
            "reference": reference,
            "limit": self.config.max_answer_chars,
        }
        ab = self._ask(build_messages(first=a, second=b, **ask))  # a shown as A
        ba = self._ask(build_messages(first=b, second=a, **ask))  # a shown as B
        first = "a" if ab[0] > ab[1] else "b" if ab[1] > ab[0] else None
        second = "a" if ba[1] > ba[0] else "b" if ba[0] > ba[1] else None
        winner = first if first == second else None
        return {
            "winner": winner,
            "by": "model" if winner else "model-disagreed",
            "p_ab": ab,  # [P(A), P(B)] with a shown as A
            "p_ba": ba,  # [P(A), P(B)] with b shown as A
        }

    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        points = [0.0] * len(answers)
        pairs = []
        for i, j in combinations(range(len(answers)), 2):
            result = self.compare(
                prompt_text=prompt_text, reference=reference, a=answers[i], b=answers[j]
            )
            winner = {"a": i, "b": j, None: None}[result["winner"]]
            if winner is None:
                points[i] += 0.5
                points[j] += 0.5
            else:
                points[winner] += 1.0
            pairs.append({"a": i, "b": j, **result, "winner": winner})
        return JudgeResult(
            points=points, max_points=float(max(len(answers) - 1, 0)), details={"pairs": pairs}
        )
