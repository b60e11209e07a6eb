"""A space's judge panel: run every judge on a match's answers and turn their points into one
ranking with ties.

What a panel may hold is ``judges.config``. Combination rule: each judge's points are
normalised to [0, 1] (points / the most one answer can get from that judge: 1 for a verifier,
the number of tests for a verifier in mode tests, ``N - 1`` pairs for a pairwise judge),
multiplied by the judge's ``weight`` (integer 1..100, default 1) and summed. Answers are ranked
by that total, highest first, in competition style ("1224"): equal totals share the best of
their places and the next total skips as many places as were shared. The arithmetic is exact
(fractions), so equal totals are equal and the ranking is deterministic for given
judge outputs.

With equal weights, a verifier plus a pairwise judge never ranks a wrong answer above a correct
one, but may tie them (a correct answer losing every pair: 1 + 0; a wrong one winning every pair:
0 + 1). Give the verifier weight 2 to make correctness strictly dominate; the pairwise judge then
orders the answers within the correct group and within the wrong group.

A judge with ``"shadow": true`` runs and its verdict is stored like any other, but its points
are left out of the totals: the judge report measures it (its accuracy against the panel's
verifier) before a creator lets it decide anything.

Every verdict records its judge's kind and ``version`` (``Judge.version``, bumped when a kind's
logic changes), the config it ran with, and in ``details`` what the kind saw and said: for LLM
judges the sha256 of each exact prompt shown, the orders shown, the raw probabilities or replies,
and the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from agents.model_store import DEFAULT_MODEL_NAME
from judges.config import parse_panel
from judges.errors import JudgeRunError
from judges.kinds import KINDS, JudgeContext, VerdictData
from judges.kinds.base import LabelProbabilities, LabelProbabilitiesBatch
from judges.prior import prior_lookup

# The name verdicts give a model injected without a name (tests, other backends).
INJECTED_MODEL = "injected"

MAX_ANSWERS = 64


@dataclass(frozen=True)
class PanelOutcome:
    ranks: list[int]  # per answer, 1 = best, ties share a rank
    verdicts: list[VerdictData]  # one per judge, in panel order
    totals: list[float]  # the combined score per answer the ranks come from


def competition_ranks(totals: list[Any]) -> list[int]:
    """Competition ("1224") ranking: rank = 1 + how many totals are strictly higher."""
    return [1 + sum(1 for other in totals if other > total) for total in totals]


def run_panel(
    *,
    panel_config: list[dict[str, Any]],
    prompt_text: str,
    reference: str,
    answers: list[str],
    label_probabilities: LabelProbabilities | None = None,
    label_probabilities_batch: LabelProbabilitiesBatch | None = None,
    judge_model: str | None = None,
    tests: Sequence[str] | None = None,
    space_id: int | None = None,
) -> PanelOutcome:
    """Judge ``answers`` with every judge of the panel and rank them.

    ``label_probabilities_batch`` (several conversations at once) or ``label_probabilities``
    (one) replaces the local model for the LLM judges (tests, other backends); ``judge_model``
    names it (default: the local default model's name, or "injected").
    ``tests`` are the prompt's test snippets, for a verifier in mode tests.
    ``space_id``: the match's space, whose earlier verdicts give a pairwise judge its position
    prior (``judges.prior``); without it the judge probes the model instead.
    Raises JudgeConfigError for a bad panel, JudgeRunError when a judge cannot judge this input.
    """
    panel = parse_panel(panel_config)
    if not answers:
        raise JudgeRunError("there are no answers to judge")
    if len(answers) > MAX_ANSWERS:
        raise JudgeRunError(f"at most {MAX_ANSWERS} answers can be judged at once")
    if not all(isinstance(a, str) for a in answers):
        raise JudgeRunError("every answer must be a string")
    if tests is None:
        tests = ()
    if not isinstance(tests, list | tuple) or not all(isinstance(t, str) for t in tests):
        raise JudgeRunError("tests must be a list of strings of Python")
    injected = label_probabilities is not None or label_probabilities_batch is not None
    context = JudgeContext(
        label_probabilities=label_probabilities,
        label_probabilities_batch=label_probabilities_batch,
        judge_model=judge_model or (INJECTED_MODEL if injected else DEFAULT_MODEL_NAME),
        stored_prior=prior_lookup(space_id),
        tests=tuple(tests),
    )

    totals = [Fraction(0)] * len(answers)
    verdicts = []
    for index, config in enumerate(panel):
        judge = KINDS[config.kind](config, context=context)
        result = judge.judge(prompt_text=prompt_text, reference=reference or "", answers=answers)
        if len(result.points) != len(answers):
            raise JudgeRunError(
                f"judge_panel[{index}] ({config.kind}) scored {len(result.points)} answers, "
                f"not {len(answers)}"
            )
        max_points = Fraction(result.max_points)
        scores = [Fraction(p) / max_points if max_points else Fraction(0) for p in result.points]
        if not config.shadow:  # a shadow judge is recorded and measured, never counted
            totals = [
                total + config.weight * score for total, score in zip(totals, scores, strict=True)
            ]
        verdicts.append(
            VerdictData(
                judge_kind=config.kind,
                version=judge.version,
                index=index,
                config=config.canonical(),
                points=[float(p) for p in result.points],
                max_points=float(result.max_points),
                scores=[float(s) for s in scores],
                details=result.details,
            )
        )
    return PanelOutcome(
        ranks=competition_ranks(totals), verdicts=verdicts, totals=[float(t) for t in totals]
    )
