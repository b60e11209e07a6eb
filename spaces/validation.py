"""Checks for the JSON parts of a space (rules, payout shares, judge panel) and of a prompt
(reference answer, tests), and whether a prompt gives the space's judges what they need.

Each ``normalize_*`` takes what a creator typed (admin form, API body, seed data) and returns the
canonical value to store, or raises ``django.core.exceptions.ValidationError`` saying what is wrong.
They are plain functions so that model ``clean()``, services and forms share one definition. The
judge panel's checks are the judges app's, reached through ``spaces.hooks.judge_panel_checker``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from spaces import hooks
from spaces.hooks import JudgeNeeds

# --- rules ----------------------------------------------------------------------------------

ANSWER_FORMATS = ("free", "number", "single_line")
# What an answer that addresses the judge (judges.injection) costs: "review" only marks it for
# staff; "penalty" ranks it after every unflagged answer; "disqualify" also takes its prize away
# (the pool is split among the other answers).
INJECTION_POLICIES = ("review", "penalty", "disqualify")
MAX_NEW_TOKENS_CAP = 1024
MAX_CHARS_LIMIT = 20_000
MAX_BANNED_SUBSTRINGS = 100
MAX_BANNED_SUBSTRING_CHARS = 200

DEFAULT_RULES: dict[str, Any] = {
    "answer_format": "free",
    "max_new_tokens_cap": 256,
    "max_chars": 4000,
    "banned_substrings": [],
    "injection_policy": "penalty",
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
    if rules["injection_policy"] not in INJECTION_POLICIES:
        raise ValidationError(
            f"injection_policy must be one of {', '.join(INJECTION_POLICIES)}, "
            f"not {rules['injection_policy']!r}"
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
# What a panel may hold is the judges app's: it registers the one checker (spaces.hooks).


def normalize_judge_panel(value: Any) -> list[dict[str, Any]]:
    """The panel to store, or ValidationError naming the judge and the field."""
    return hooks.judge_panel_checker().normalize(value)


def judge_panel_needs(judge_panel: list[dict[str, Any]] | None) -> list[JudgeNeeds]:
    """What each judge of a stored panel needs on every prompt; none for no panel."""
    return hooks.judge_panel_checker().needs(judge_panel) if judge_panel else []


def _named(needs: list[JudgeNeeds]) -> str:
    return ", ".join(f"judge_panel[{need.index}] ({need.label})" for need in needs)


def panel_fit_problems(
    *, needs: Sequence[JudgeNeeds], task_kind: str, answer_format: str | None
) -> list[tuple[str, str]]:
    """Why a panel (what its judges ``needs``) does not fit its space's task kind and answer
    format (None: unknown), as (field, message) pairs."""
    checking = [need for need in needs if need.reference or need.tests]
    problems = []
    if task_kind == "verifiable" and not checking:
        problems.append(
            (
                "judge_panel",
                "a verifiable space needs a verifier (a judge that checks reference answers "
                "or tests) in its judge panel",
            )
        )
    if task_kind == "open" and checking:
        problems.append(
            (
                "judge_panel",
                "judges that need reference answers (or tests) belong in a verifiable space: "
                f"{_named(checking)}",
            )
        )
    testing = [need for need in needs if need.tests]
    if testing and answer_format == "number":
        problems.append(
            (
                "rules",
                f"judges that run tests run the answer as Python code ({_named(testing)}): "
                "use answer_format free (or single_line for one-liners), not number",
            )
        )
    return problems


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


def panel_problem(*, needs: Sequence[JudgeNeeds], reference: str, tests: list[str]) -> str | None:
    """Why a prompt lacks what the space's judges need (``judge_panel_needs``), or None."""
    for need in needs:
        if need.tests and not tests:
            return (
                f"judge_panel[{need.index}] is a {need.label}: every prompt needs tests "
                '(a list of Python snippets such as "assert add(2, 3) == 5")'
            )
        if need.reference and not reference.strip():
            return (
                f"judge_panel[{need.index}] is a {need.label}: every prompt needs a reference "
                "answer"
            )
    return None


def prompt_problem(
    *,
    reference: str,
    tests: list[str],
    task_kind: str,
    answer_format: str,
    needs: Sequence[JudgeNeeds] = (),
) -> str | None:
    """Why a prompt (reference and tests, already cleaned) does not fit its space (its kind,
    answer format, and what its judges ``needs``), or None."""
    return panel_problem(needs=needs, reference=reference, tests=tests) or reference_problem(
        reference=reference, task_kind=task_kind, answer_format=answer_format, has_tests=bool(tests)
    )


def default_rules() -> dict:
    """Field default for Space.rules (a named function, so migrations can serialise it)."""
    return dict(DEFAULT_RULES)
