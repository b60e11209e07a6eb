"""Trying a judge panel on two sample answers before saving it (the admin's "Try a judge panel").

A creator pastes a prompt, a reference answer (and tests, for a verifier in mode tests), two
sample answers A and B and a panel, and sees what each judge would decide, in words and numbers.
Nothing is stored: ``run_panel`` only reads (the space's stored verdicts, for a pairwise judge's
position prior), and this module writes no row.

``trial_input`` checks what was typed (sizes, the panel, what its judges need) and raises
``TrialInputError`` with the problems per field, before anything runs. ``run_trial`` runs the
panel and turns its ``PanelOutcome`` into a ``TrialReport``: plain strings and rows a template
shows as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from agents.inference.base import InferenceError
from agents.model_store import ModelStoreError
from judges.config import (
    MAX_ANSWER_CHARS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_JUDGES,
    MAX_SCHEMA_CHARS,
    JudgeConfig,
    parse_panel,
)
from judges.errors import JudgeConfigError, JudgeError, JudgeRunError
from judges.injection import detect_injection
from judges.kinds.base import LabelProbabilitiesBatch, VerdictData
from judges.panel import PanelOutcome, run_panel
from spaces.prompt_bank import MAX_PROMPT_CHARS, MAX_REFERENCE_CHARS
from spaces.validation import normalize_tests

# The largest answer any judge reads (its max_answer_chars at most, the space's max_chars at
# most): a longer sample could never reach a judge, so it is refused rather than cut silently.
MAX_SAMPLE_CHARS = MAX_ANSWER_CHARS
# Room for MAX_JUDGES judges with the longest fields a config may hold, and no more.
MAX_PANEL_CHARS = MAX_JUDGES * (MAX_SCHEMA_CHARS + 2 * MAX_INSTRUCTIONS_CHARS)
MAX_TESTS_JSON_CHARS = 100_000  # normalize_tests then checks each test's own size and count

SIDES = ("A", "B")


class TrialInputError(JudgeError):
    """What was typed cannot be tried: ``field_errors`` maps each form field (``panel``,
    ``prompt``, ``reference``, ``tests``, ``answer_a``, ``answer_b``) to its problems."""

    def __init__(self, field_errors: dict[str, list[str]]):
        self.field_errors = field_errors
        super().__init__("; ".join(f"{f}: {m}" for f, ms in field_errors.items() for m in ms))


@dataclass(frozen=True)
class TrialInput:
    panel: list[dict[str, Any]]  # as typed (parsed JSON); checked by parse_panel
    judges: list[JudgeConfig]
    prompt_text: str
    reference: str
    tests: list[str]
    answers: tuple[str, str]
    space_id: int | None  # the space whose stored verdicts give a pairwise judge its prior


@dataclass(frozen=True)
class JudgeReport:
    """One judge's verdict in words: ``rows`` are (what, for A, for B); ``facts`` are
    (what, value) sentences about the whole pair."""

    title: str
    summary: str
    points: tuple[str, str]
    scores: tuple[str, str]
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TrialReport:
    winner: str  # "A", "B" or "tie"
    summary: str
    ranks: tuple[int, int]
    totals: tuple[str, str]
    judges: list[JudgeReport]
    injection: list[tuple[str, list[tuple[str, str]]]]  # per side: (side, [(kind, excerpt)])
    canonical_panel: str  # the panel as a space would store it


# --- checking the input ---------------------------------------------------------------------


def _normalized(text: str) -> str:
    """Browsers send a textarea's line ends as CRLF; the judges and the space see LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _too_long(text: str, limit: int, what: str) -> str | None:
    if len(text) > limit:
        return f"{what} is {len(text)} characters; at most {limit}"
    return None


def _parse_panel_text(text: str, errors: dict[str, list[str]]) -> tuple[Any, list[JudgeConfig]]:
    problem = _too_long(text, MAX_PANEL_CHARS, "the judge panel")
    if problem:
        errors["panel"] = [problem]
        return None, []
    try:
        panel = json.loads(text)
    except json.JSONDecodeError as exc:
        # Django's JSONField says "Enter a valid JSON."; here it also says where.
        errors["panel"] = [
            f"Enter a valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ]
        return None, []
    try:
        return panel, parse_panel(panel)  # the one check run_panel and the space form use
    except JudgeConfigError as exc:
        errors["panel"] = exc.messages
        return None, []


def _parse_tests_text(text: str, errors: dict[str, list[str]]) -> list[str]:
    if not text.strip():
        return []
    problem = _too_long(text, MAX_TESTS_JSON_CHARS, "the tests")
    if problem:
        errors["tests"] = [problem]
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        errors["tests"] = [
            'tests must be a JSON list of Python snippets, e.g. ["assert add(2, 3) == 5"] '
            f"({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ]
        return []
    try:
        return normalize_tests(value)  # the check a prompt's tests get
    except ValidationError as exc:
        errors["tests"] = exc.messages
        return []


def trial_input(
    *,
    panel_text: str,
    prompt_text: str,
    reference: str,
    tests_text: str,
    answer_a: str,
    answer_b: str,
    space_id: int | None = None,
) -> TrialInput:
    """What was typed, checked: every problem at once in TrialInputError, nothing run."""
    errors: dict[str, list[str]] = {}
    prompt_text, reference = _normalized(prompt_text), _normalized(reference)
    answers = (_normalized(answer_a), _normalized(answer_b))
    panel, judges = _parse_panel_text(panel_text, errors)

    if not prompt_text.strip():
        errors["prompt"] = ["write the prompt the answers reply to"]
    elif problem := _too_long(prompt_text, MAX_PROMPT_CHARS, "the prompt"):
        errors["prompt"] = [problem]
    if problem := _too_long(reference, MAX_REFERENCE_CHARS, "the reference answer"):
        errors["reference"] = [problem]
    for side, answer in zip(SIDES, answers, strict=True):
        if problem := _too_long(answer, MAX_SAMPLE_CHARS, f"answer {side}"):
            errors[f"answer_{side.lower()}"] = [problem]
    tests = _parse_tests_text(tests_text, errors)

    # What the judges need on every prompt, said before a judge fails on it.
    for index, judge in enumerate(judges):
        where = f"judge_panel[{index}] ({judge.label})"
        if judge.needs_reference and not reference.strip() and "reference" not in errors:
            errors.setdefault("reference", []).append(f"{where} needs a reference answer")
        if judge.needs_tests and not tests and "tests" not in errors:
            errors.setdefault("tests", []).append(
                f'{where} needs tests: a JSON list such as ["assert add(2, 3) == 5"]'
            )
    if errors:
        raise TrialInputError(errors)
    return TrialInput(
        panel=panel,
        judges=judges,
        prompt_text=prompt_text,
        reference=reference,
        tests=tests,
        answers=answers,
        space_id=space_id,
    )


# --- running and reporting ------------------------------------------------------------------


def run_trial(
    trial: TrialInput, *, label_probabilities_batch: LabelProbabilitiesBatch | None = None
) -> TrialReport:
    """Run the panel on the two answers and report it. An LLM judge reads the local default
    model unless ``label_probabilities_batch`` replaces it. Raises JudgeRunError when a judge
    cannot judge this input, or the judge model cannot be loaded or run (the message is fit to
    show)."""
    try:
        outcome = run_panel(
            panel_config=trial.panel,
            prompt_text=trial.prompt_text,
            reference=trial.reference,
            answers=list(trial.answers),
            tests=trial.tests,
            space_id=trial.space_id,
            label_probabilities_batch=label_probabilities_batch,
        )
    except (InferenceError, ModelStoreError) as exc:
        # A match would fail on these too; here the creator reads why instead of a server error.
        raise JudgeRunError(f"the judge model could not run here: {exc}") from exc
    return trial_report(trial, outcome)


def trial_report(trial: TrialInput, outcome: PanelOutcome) -> TrialReport:
    ranks = (outcome.ranks[0], outcome.ranks[1])
    winner = "tie" if ranks[0] == ranks[1] else SIDES[ranks.index(1)]
    totals = (_num(outcome.totals[0]), _num(outcome.totals[1]))
    weights = " + ".join(f"{j.weight} × judge {i}" for i, j in enumerate(trial.judges))
    how = f"combined scores {totals[0]} for A, {totals[1]} for B ({weights}, each in [0, 1])"
    summary = f"{_winner_words(winner)}: {how}"
    return TrialReport(
        winner=winner,
        summary=summary,
        ranks=ranks,
        totals=totals,
        judges=[
            _judge_report(verdict, judge, trial.answers)
            for verdict, judge in zip(outcome.verdicts, trial.judges, strict=True)
        ],
        injection=[
            (side, [(f.kind, f.excerpt) for f in detect_injection(answer)])
            for side, answer in zip(SIDES, trial.answers, strict=True)
        ],
        canonical_panel=json.dumps([j.canonical() for j in trial.judges], indent=2),
    )


def _winner_words(winner: str) -> str:
    return "a tie" if winner == "tie" else f"answer {winner} wins"


def _num(x: float) -> str:
    return f"{x:.4g}"


def _p(x: float) -> str:
    return f"{x:.4f}"


def _nats(x: float) -> str:
    return f"{x:+.3f} nats"


def _row(what: str, values: Sequence[str]) -> tuple[str, str, str]:
    """A table row: what, then the value for A and for B."""
    first, second = values
    return (what, first, second)


def _side(index: int | None) -> str:
    return "tie" if index is None else SIDES[index]


def _judge_report(verdict: VerdictData, judge: JudgeConfig, answers: Sequence[str]) -> JudgeReport:
    scores = verdict.scores
    if scores[0] == scores[1]:
        says = "a tie"
    else:
        says = f"answer {SIDES[0 if scores[0] > scores[1] else 1]} is better"
    most = _num(verdict.max_points)
    report = JudgeReport(
        title=f"judge_panel[{verdict.index}]: {judge.label}, weight {judge.weight}",
        summary=says,
        points=(f"{_num(verdict.points[0])} of {most}", f"{_num(verdict.points[1])} of {most}"),
        scores=(_num(scores[0]), _num(scores[1])),
    )
    describe = _DESCRIBERS.get(verdict.judge_kind, _describe_raw)
    describe(report, verdict.details, judge)
    limit = getattr(judge, "max_answer_chars", None)
    for side, answer in zip(SIDES, answers, strict=True):
        if limit is not None and len(answer.strip()) > limit:
            report.facts.append(
                (
                    f"answer {side} is cut",
                    f"{len(answer.strip())} characters; this judge reads the first {limit}",
                )
            )
    return report


def _describe_verifier(report: JudgeReport, details: dict[str, Any], judge: JudgeConfig) -> None:
    checks = details.get("answers", [])
    report.rows.append(_row("right?", ["right" if c.get("correct") else "wrong" for c in checks]))
    if any("parsed" in c for c in checks):
        report.rows.append(_row("number read", [c.get("parsed") or "none" for c in checks]))
    if any(c.get("reason") for c in checks):
        report.rows.append(_row("why wrong", [c.get("reason", "") for c in checks]))
    if details.get("mode") == "tests":
        total = details.get("tests", 0)
        report.rows.append(_row("tests passed", [f"{c['passed']} of {total}" for c in checks]))
        for n in range(total):
            results = [_test_result(c["tests"][n]) for c in checks]
            report.rows.append(_row(f"test {n + 1}", results))
        report.facts.append(("time limit per test", f"{details.get('timeout_s')} s"))


def _test_result(result: dict[str, Any]) -> str:
    if result.get("passed"):
        return "passed"
    why = result.get("reason", "")
    message = result.get("message")
    return f"failed: {why}" + (f" ({message})" if message else "")


def _describe_pairwise_llm(
    report: JudgeReport, details: dict[str, Any], judge: JudgeConfig
) -> None:
    [pair] = details["pairs"]  # two answers: one pair, a = answer A, b = answer B
    if "p_ab" not in pair:  # decided without the model
        why = {"identical": "the answers are identical", "blank": "one answer is blank"}
        outcome = _winner_words(_side(pair["winner"]))
        report.facts.append(
            ("decision", f"{outcome}: {why.get(pair['by'], pair['by'])} (the model is not asked)")
        )
        return
    report.facts.append(("model", str(details.get("model"))))
    p_ab, p_ba, prior = pair["p_ab"], pair["p_ba"], details["prior"]
    # p_ab is [P(first), P(second)] with A shown first; p_ba the same with B shown first.
    report.rows.extend(
        [
            ("P(answer) with A shown first", _p(p_ab[0]), _p(p_ab[1])),
            ("P(answer) with B shown first", _p(p_ba[1]), _p(p_ba[0])),
        ]
    )
    report.facts.extend(
        [
            (
                "order 1: A shown first",
                f"P(first) = {_p(p_ab[0])}, P(second) = {_p(p_ab[1])}, "
                f"log-odds first/second {_nats(pair['l_ab'])}",
            ),
            (
                "order 2: B shown first",
                f"P(first) = {_p(p_ba[0])}, P(second) = {_p(p_ba[1])}, "
                f"log-odds first/second {_nats(pair['l_ba'])}",
            ),
            ("position prior used", _prior_words(prior)),
            ("this pair's own position bias", _nats(pair["bias"])),
            (
                "debiased margin for A",
                f"{_nats(pair['margin'])} = (order 1 log-odds − order 2 log-odds) / 2",
            ),
            ("tie threshold", f"|margin| < {details['tie_margin']:g} nats is a tie"),
            ("decision", _pairwise_decision(pair, details["tie_margin"])),
            (
                "both orders agree (each net of the prior)",
                "yes" if pair.get("orders_agree") else "no",
            ),
        ]
    )


def _prior_words(prior: dict[str, Any]) -> str:
    text = f"{_nats(prior['log_odds'])} toward the first-shown answer, "
    if prior["source"] == "verdicts":
        return text + f"the mean bias of {prior['pairs']} pairs in this space's recent verdicts"
    probe = prior.get("probe", {}).get("p")
    seen = f" (P(first) = {_p(probe[0])})" if probe else ""
    return text + f'from a content-free probe, both answers "N/A"{seen}'


def _pairwise_decision(pair: dict[str, Any], tie_margin: float) -> str:
    size = f"|margin| = {abs(pair['margin']):.3f}"
    if pair["winner"] is None:
        return f"a tie: {size} < {tie_margin:g}"
    return f"answer {_side(pair['winner'])} wins: {size} ≥ {tie_margin:g}"


def _describe_score_llm(report: JudgeReport, details: dict[str, Any], judge: JudgeConfig) -> None:
    checks = details.get("answers", [])
    report.rows.append(_row("score (1 to 10)", [f"{c['score']:.2f}" for c in checks]))
    report.rows.append(_row("most likely digit (0 to 9)", [_top_digit(c) for c in checks]))
    report.facts.append(("model", str(details.get("model"))))
    report.facts.append(("scale", "1 + the expected digit under the model's digit probabilities"))


def _top_digit(check: dict[str, Any]) -> str:
    probs = check.get("p")
    if not probs:
        return "blank answer: no model"
    digit = max(range(len(probs)), key=probs.__getitem__)
    return f"{digit} (p = {_p(probs[digit])})"


def _describe_http_llm(report: JudgeReport, details: dict[str, Any], judge: JudgeConfig) -> None:
    [pair] = details["pairs"]
    report.facts.append(("endpoint", f"{details.get('base_url')} ({details.get('model')})"))
    for n, reply in enumerate(pair.get("replies", [])):
        shown = "A" if n == 0 else "B"
        said = reply.get("verdict") or f"no verdict ({reply.get('error')})"
        reason = reply.get("reason")
        report.facts.append(
            (f"order {n + 1}: {shown} shown first", said + (f": {reason}" if reason else ""))
        )
    report.facts.append(("decision", f"{_winner_words(_side(pair['winner']))} ({pair['by']})"))


def _describe_raw(report: JudgeReport, details: dict[str, Any], judge: JudgeConfig) -> None:
    report.facts.append(("details", json.dumps(details, indent=2, default=str)))


_DESCRIBERS = {
    "verifier": _describe_verifier,
    "pairwise-llm": _describe_pairwise_llm,
    "score-llm": _describe_score_llm,
    "http-llm": _describe_http_llm,
}
