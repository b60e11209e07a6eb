"""``score-llm``: the local model scores each answer from 1 to 10 by the creator's rubric.

Each answer is shown alone (the task, the reference when there is one, the answer as an untrusted
data block: ``judges.kinds.untrusted``) with the rubric, and the model is asked for a score. We do
not parse generated text: the score is the expected value of the score under the model's
next-token probabilities of the score labels, so a model torn between 6 and 7 gives 6.5 and two
answers rarely tie by rounding.

The scale shown to the model is 0 to 9, mapped to 1 to 10 (score = 1 + expected digit). Why not
ask for 1..10 directly: the labels are read as each label's first token, and "10" starts with
the same token as "1" in most tokenizers (the default model's splits every digit), so "10" could
not be told apart from "1"; ``agents.inference.local`` refuses labels sharing a first token. Ten
one-token digits keep ten distinct, honestly read scores.

All distinct answers of a match go to the model in ONE batched call; identical answers (after
trimming) share one question, and a blank answer scores 1 without the model. Points per answer:
its score (1 to 10), out of 10.

Config (``judges.config.ScoreLLMConfig``): ``rubric`` (required: what a good answer is, the
creator's words), ``max_answer_chars`` (100 to 20000, default 2000).
"""

from __future__ import annotations

from typing import Any

from judges.config import ScoreLLMConfig
from judges.kinds.base import Judge, JudgeResult
from judges.kinds.labels import ask_labels
from judges.kinds.pairwise_llm import default_label_probabilities_batch
from judges.kinds.untrusted import answer_block, judge_instructions, prompt_sha256

DIGITS = [str(d) for d in range(10)]  # the labels, scale 0..9
MIN_SCORE, MAX_SCORE = 1, 10  # the scale a creator reads: 1 + digit
SYSTEM = (
    "You are a fair and strict judge. You score one answer to a task by the rubric below, on a "
    "scale from 0 (worst) to 9 (best). Reply with a single digit.\n\nRubric:\n{rubric}"
)
QUESTION = "Score the answer by the rubric, from 0 (worst) to 9 (best). Reply with one digit only."


def build_messages(*, rubric: str, prompt_text: str, reference: str, answer: str, limit: int):
    parts = [f"Task:\n{prompt_text.strip()}"]
    if reference.strip():
        parts.append(f"Reference answer:\n{reference.strip()}")
    parts.append(answer_block("1", answer, limit))
    parts.append(QUESTION)
    return [
        {"role": "system", "content": judge_instructions(SYSTEM.format(rubric=rubric.strip()))},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def expected_score(probs: list[float]) -> float:
    """1 + the expected digit under ``probs`` (renormalised: they need not sum to 1); all zero
    means the model gave no score label any weight: the lowest score."""
    total = sum(probs)
    if total <= 0:
        return float(MIN_SCORE)
    return MIN_SCORE + sum(digit * p for digit, p in enumerate(probs)) / total


class ScoreLLMJudge(Judge):
    Config = ScoreLLMConfig
    config: ScoreLLMConfig
    version = 1

    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        distinct = list(dict.fromkeys(a.strip() for a in answers if a.strip()))
        conversations = [
            build_messages(
                rubric=self.config.rubric,
                prompt_text=prompt_text,
                reference=reference,
                answer=answer,
                limit=self.config.max_answer_chars,
            )
            for answer in distinct
        ]
        read = self.context.batch_label_probabilities() or default_label_probabilities_batch
        probs = ask_labels(read, conversations, DIGITS)  # ONE call for the whole match
        asked = {
            answer: {
                "score": expected_score(p),
                "by": "model",
                "p": p,
                "prompt_sha256": prompt_sha256(messages),
            }
            for answer, p, messages in zip(distinct, probs, conversations, strict=True)
        }
        blank = {"score": float(MIN_SCORE), "by": "blank"}
        checks: list[dict[str, Any]] = [asked.get(a.strip(), blank) for a in answers]
        return JudgeResult(
            points=[c["score"] for c in checks],
            max_points=float(MAX_SCORE),
            details={
                "model": self.context.judge_model,
                "labels": DIGITS,
                "scale": "1 + the expected digit 0..9",
                "calls": 1 if conversations else 0,
                "answers": [dict(c) for c in checks],
            },
        )
