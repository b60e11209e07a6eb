"""Checks for the JSON parts of a space (rules, payout shares, judge panel) and of a prompt
(reference answer, tests), and whether a prompt gives the space's judges what they need.

Each ``normalize_*`` takes what a creator typed (admin form, API body, seed data) and returns the
canonical value to store, or raises ``django.core.exceptions.ValidationError`` saying what is wrong.
They are plain functions so that model ``clean()``, services and forms share one definition.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

# --- rules ----------------------------------------------------------------------------------

ANSWER_FORMATS = ("free", "number", "single_line")
MAX_NEW_TOKENS_CAP = 1024
MAX_CHARS_LIMIT = 20_000
MAX_BANNED_SUBSTRINGS = 100
MAX_BANNED_SUBSTRING_CHARS = 200

DEFAULT_RULES: dict[str, Any] = {
    "answer_format": "free",
    "max_new_tokens_cap": 256,
    "max_chars": 4000,
    "banned_substrings": [],
}


def _is_int(value: Any) -> bool:
    # bool is an int in Python; a JSON true must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_rules(value: Any) -> dict[str, Any]:
    """Fill in defaults and refuse unknown keys or out-of-range values."""
    if value is None or value == "":
        value = {}
    if not isinstance(value, dict):
        raise ValidationError("rules must be a JSON object")
    unknown = sorted(set(value) - set(DEFAULT_RULES))
    if unknown:
        raise ValidationError(
            f"unknown rule(s) {', '.join(unknown)}; allowed: {', '.join(DEFAULT_RULES)}"
        )
    rules = {**DEFAULT_RULES, **value}
    if rules["answer_format"] not in ANSWER_FORMATS:
        raise ValidationError(
            f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, "
            f"not {rules['answer_format']!r}"
        )
    cap = rules["max_new_tokens_cap"]
    if not _is_int(cap) or not 1 <= cap <= MAX_NEW_TOKENS_CAP:
        raise ValidationError(
            f"max_new_tokens_cap must be an integer from 1 to {MAX_NEW_TOKENS_CAP}, not {cap!r}"
        )
    max_chars = rules["max_chars"]
    if not _is_int(max_chars) or not 1 <= max_chars <= MAX_CHARS_LIMIT:
        raise ValidationError(
            f"max_chars must be an integer from 1 to {MAX_CHARS_LIMIT}, not {max_chars!r}"
        )
    banned = rules["banned_substrings"]
    if not isinstance(banned, list) or not all(isinstance(s, str) for s in banned):
        raise ValidationError("banned_substrings must be a list of strings")
    if len(banned) > MAX_BANNED_SUBSTRINGS:
        raise ValidationError(f"banned_substrings: at most {MAX_BANNED_SUBSTRINGS} entries")
    for s in banned:
        if not s.strip():
            raise ValidationError("banned_substrings may not contain an empty string")
        if len(s) > MAX_BANNED_SUBSTRING_CHARS:
            raise ValidationError(
                f"banned_substrings: each at most {MAX_BANNED_SUBSTRING_CHARS} characters"
            )
    rules["banned_substrings"] = list(dict.fromkeys(banned))
    return rules


# --- payout shares ---------------------------------------------------------------------------


def parse_decimal(text: Any, what: str) -> Decimal:
    """A finite decimal from a string (floats are refused: 0.1 is not exactly one tenth)."""
    if not isinstance(text, str):
        raise ValidationError(f'{what} must be a decimal string such as "0.5", not {text!r}')
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationError(f"{what}: {text!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValidationError(f"{what}: {text!r} is not a finite number")
    return number


def normalize_payout_shares(value: Any) -> list[str]:
    """Shares by rank (index 0 = 1st place): decimal strings, each in [0, 1], non-increasing
    (a better place never earns less), summing to exactly 1."""
    if not isinstance(value, list) or not value:
        raise ValidationError("payout_shares must be a non-empty list of decimal strings")
    shares = [parse_decimal(v, f"payout_shares[{i}]") for i, v in enumerate(value)]
    for i, share in enumerate(shares):
        if not Decimal(0) <= share <= Decimal(1):
            raise ValidationError(f"payout_shares[{i}] must be between 0 and 1, not {share}")
    for i in range(1, len(shares)):
        if shares[i] > shares[i - 1]:
            raise ValidationError(
                f"payout_shares must not increase with rank: place {i + 1} ({shares[i]}) "
                f"gets more than place {i} ({shares[i - 1]})"
            )
    total = sum(shares, Decimal(0))
    if total != Decimal(1):
        raise ValidationError(f"payout_shares must sum to exactly 1, they sum to {total}")
    return [str(s) for s in shares]


# --- judge panel -----------------------------------------------------------------------------

VERIFIER_MODES = ("exact", "numeric", "regex", "tests")
TESTS_MODE = "tests"  # a verifier that runs the prompt's tests on the answer's code
MAX_TEST_TIMEOUT_S = 10
MAX_JUDGES = 8
MAX_PATTERN_CHARS = 500
MAX_INSTRUCTIONS_CHARS = 2000
COMMON_JUDGE_KEYS = {"kind", "weight"}

JudgeValidator = Callable[[dict[str, Any], str], dict[str, Any]]


def _check_keys(config: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(config) - allowed - COMMON_JUDGE_KEYS)
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _verifier(config: dict[str, Any], where: str) -> dict[str, Any]:
    _check_keys(config, {"mode", "tolerance", "pattern", "case_sensitive", "timeout_s"}, where)
    mode = config.get("mode")
    if mode not in VERIFIER_MODES:
        raise ValidationError(
            f"{where}: verifier mode must be one of {', '.join(VERIFIER_MODES)}, not {mode!r}"
        )
    out: dict[str, Any] = {"kind": "verifier", "mode": mode}
    if mode == "numeric":
        tolerance = parse_decimal(config.get("tolerance", "0"), f"{where}: tolerance")
        if tolerance < 0:
            raise ValidationError(f"{where}: tolerance must be >= 0")
        out["tolerance"] = str(tolerance)
    elif "tolerance" in config:
        raise ValidationError(f"{where}: tolerance only applies to mode numeric")
    if mode == "regex":
        pattern = config.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ValidationError(f"{where}: a regex verifier needs a pattern string")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ValidationError(f"{where}: pattern at most {MAX_PATTERN_CHARS} characters")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(f"{where}: pattern does not compile: {exc}") from None
        out["pattern"] = pattern
    elif "pattern" in config:
        raise ValidationError(f"{where}: pattern only applies to mode regex")
    if "case_sensitive" in config:
        if mode != "exact" or not isinstance(config["case_sensitive"], bool):
            raise ValidationError(f"{where}: case_sensitive is a true/false for mode exact")
        out["case_sensitive"] = config["case_sensitive"]
    if mode == TESTS_MODE:
        timeout = config.get("timeout_s", 2)
        if not _is_int(timeout) or not 1 <= timeout <= MAX_TEST_TIMEOUT_S:
            raise ValidationError(
                f"{where}: timeout_s must be a whole number of seconds from 1 to "
                f"{MAX_TEST_TIMEOUT_S}, not {timeout!r}"
            )
        out["timeout_s"] = timeout
    elif "timeout_s" in config:
        raise ValidationError(f"{where}: timeout_s only applies to mode tests")
    return out


def _pairwise_llm(config: dict[str, Any], where: str) -> dict[str, Any]:
    _check_keys(config, {"instructions"}, where)
    out: dict[str, Any] = {"kind": "pairwise-llm"}
    if "instructions" in config:
        text = config["instructions"]
        if not isinstance(text, str) or len(text) > MAX_INSTRUCTIONS_CHARS:
            raise ValidationError(
                f"{where}: instructions must be a string of at most {MAX_INSTRUCTIONS_CHARS} chars"
            )
        out["instructions"] = text
    return out


# Judge kinds that need a reference answer on every prompt (or, for a verifier in mode tests,
# tests on every prompt); they only fit verifiable spaces.
REFERENCE_JUDGE_KINDS = {"verifier"}
_JUDGE_KINDS: dict[str, JudgeValidator] = {"verifier": _verifier, "pairwise-llm": _pairwise_llm}


def register_judge_kind(kind: str, validator: JudgeValidator, *, needs_reference: bool = False):
    """Let the judges app declare more kinds (it may import spaces; spaces never imports it).
    ``validator(config, where)`` returns the normalized config or raises ValidationError."""
    _JUDGE_KINDS[kind] = validator
    if needs_reference:
        REFERENCE_JUDGE_KINDS.add(kind)


def judge_kinds() -> list[str]:
    return sorted(_JUDGE_KINDS)


def normalize_judge_panel(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ValidationError("judge_panel must be a non-empty list of judge configs")
    if len(value) > MAX_JUDGES:
        raise ValidationError(f"judge_panel: at most {MAX_JUDGES} judges")
    panel = []
    for i, config in enumerate(value):
        where = f"judge_panel[{i}]"
        if not isinstance(config, dict):
            raise ValidationError(f"{where} must be a JSON object with a kind")
        kind = config.get("kind")
        if kind not in _JUDGE_KINDS:
            raise ValidationError(
                f"{where}: unknown judge kind {kind!r}; known: {', '.join(judge_kinds())}"
            )
        out = _JUDGE_KINDS[kind](config, where)
        if "weight" in config:
            weight = config["weight"]
            if not _is_int(weight) or not 1 <= weight <= 100:
                raise ValidationError(f"{where}: weight must be an integer from 1 to 100")
            out["weight"] = weight
        panel.append(out)
    return panel


# --- prompts ----------------------------------------------------------------------------------


MAX_TESTS = 20
MAX_TEST_CHARS = 2000


def normalize_tests(value: Any) -> list[str]:
    """A prompt's tests: a list of at most MAX_TESTS Python snippets (``"assert add(2, 3) == 5"``),
    each non-empty, at most MAX_TEST_CHARS characters and compiling as Python. Each is dedented
    and trimmed; None or "" means no tests."""
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise ValidationError(
            'tests must be a list of Python snippets, e.g. ["assert add(2, 3) == 5"], '
            f"not {type(value).__name__}"
        )
    if len(value) > MAX_TESTS:
        raise ValidationError(f"tests: {len(value)} tests; at most {MAX_TESTS}")
    tests = []
    for i, test in enumerate(value):
        where = f"tests[{i}]"
        if not isinstance(test, str):
            raise ValidationError(f"{where} must be a string of Python, not {type(test).__name__}")
        if len(test) > MAX_TEST_CHARS * 2:  # before any work on it; trimmed length checked below
            raise ValidationError(f"{where} is {len(test)} characters; at most {MAX_TEST_CHARS}")
        text = textwrap.dedent(test).strip()
        if not text:
            raise ValidationError(f"{where} is empty")
        if len(text) > MAX_TEST_CHARS:
            raise ValidationError(f"{where} is {len(text)} characters; at most {MAX_TEST_CHARS}")
        try:
            compile(text, "<test>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise ValidationError(
                f"{where} is not valid Python: {exc.msg} (line {exc.lineno})"
            ) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise ValidationError(f"{where} is not valid Python: {exc}") from None
        tests.append(text)
    return tests


def reference_problem(
    *, reference: str, task_kind: str, answer_format: str, has_tests: bool = False
) -> str | None:
    """Why a prompt's reference answer does not fit the space, or None when it fits. A verifiable
    prompt needs a reference answer, or tests (``has_tests``) in its place."""
    if task_kind == "verifiable" and not reference.strip() and not has_tests:
        return "a verifiable space needs a reference answer (or tests) for every prompt"
    if reference.strip() and answer_format == "number":
        try:
            number = Decimal(reference.strip())
        except InvalidOperation:
            return f"the space's answer format is number, but the reference {reference!r} is not"
        if not number.is_finite():
            return f"the reference {reference!r} is not a finite number"
    if answer_format == "single_line" and "\n" in reference.strip():
        return "the space's answer format is single_line, but the reference has line breaks"
    return None


def runs_tests(config: Any) -> bool:
    """Whether a judge config is a verifier in mode tests."""
    return (
        isinstance(config, dict)
        and config.get("kind") in REFERENCE_JUDGE_KINDS
        and config.get("mode") == TESTS_MODE
    )


def panel_problem(*, judge_panel: Any, reference: str, tests: list[str]) -> str | None:
    """Why a prompt lacks what the space's judges need (a verifier in mode tests: tests; any other
    verifier: a reference answer), or None."""
    for i, config in enumerate(judge_panel if isinstance(judge_panel, list) else []):
        if not isinstance(config, dict) or config.get("kind") not in REFERENCE_JUDGE_KINDS:
            continue
        if runs_tests(config):
            if not tests:
                return (
                    f"judge_panel[{i}] is a verifier in mode tests: every prompt needs tests "
                    '(a list of Python snippets such as "assert add(2, 3) == 5")'
                )
        elif not reference.strip():
            mode = f" in mode {config['mode']}" if config.get("mode") else ""
            return (
                f"judge_panel[{i}] is a {config['kind']}{mode}: every prompt needs a reference "
                "answer"
            )
    return None


def prompt_problem(
    *,
    reference: str,
    tests: list[str],
    task_kind: str,
    answer_format: str,
    judge_panel: Any = None,
) -> str | None:
    """Why a prompt (reference and tests, already cleaned) does not fit its space, or None."""
    return panel_problem(
        judge_panel=judge_panel, reference=reference, tests=tests
    ) or reference_problem(
        reference=reference, task_kind=task_kind, answer_format=answer_format, has_tests=bool(tests)
    )


def default_rules() -> dict:
    """Field default for Space.rules (a named function, so migrations can serialise it)."""
    return dict(DEFAULT_RULES)
