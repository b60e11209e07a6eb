"""The verifier's mode ``json_schema``: an answer is right when it is JSON that the config's
JSON Schema accepts (``jsonschema``).

The JSON is the whole answer (trimmed) or, failing that, the answer's first fenced code block
(```json or ```), as models often wrap JSON in one. Only strict JSON is read: NaN and Infinity
are refused. The schema's dialect is its ``$schema`` (draft 2020-12 when it names none);
``format`` is asserted (an "email" must look like one), and ``pattern`` runs on the ``regex``
engine with a time limit, as the verifier's regex mode does, so a pathological pattern cannot
stall the judge worker. The schema was checked against its metaschema when the space was saved
(``judges.config.check_json_schema``); a ``$ref`` that points outside the schema is never fetched
and fails judging.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import regex
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing.exceptions import Unresolvable

from judges.errors import JudgeRunError

PATTERN_TIMEOUT_S = 1.0
MAX_REASON_CHARS = 300
_FENCED = regex.compile(r"```(?:json)?[ \t]*\n(?P<body>.*?)```", regex.DOTALL | regex.IGNORECASE)


class NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not JSON")


MAX_NESTING = 100  # arrays and objects inside each other; no schema a creator writes needs more


def _nesting(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (strings skipped). Checked before parsing:
    the C decoder recurses once per level, and under a raised recursion limit a hostile answer
    such as 100,000 "[" overflows the C stack and kills the judge worker instead of raising."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
        elif ch in "]}":
            depth -= 1
    return deepest


def _loads(text: str) -> Any:
    if _nesting(text) > MAX_NESTING:
        raise NotJSON(f"nested more than {MAX_NESTING} levels deep")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except NotJSON:
        raise
    except (ValueError, RecursionError) as exc:
        raise NotJSON(str(exc)[:MAX_REASON_CHARS]) from None


def parse_answer(answer: str) -> Any:
    """The JSON value an answer holds, or NotJSON saying why it holds none."""
    try:
        return _loads(answer.strip())
    except NotJSON as whole:
        fenced = _FENCED.search(answer)
        if fenced is None:
            raise whole from None
        return _loads(fenced["body"].strip())


def _timed_pattern(validator, pattern: str, instance: Any, schema: Any) -> Iterator:
    """The ``pattern`` keyword on the regex engine with a time limit."""
    if not validator.is_type(instance, "string"):
        return
    try:
        found = regex.search(pattern, instance, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        yield ValidationError(f"the pattern {pattern!r} timed out on this value")
        return
    except regex.error as exc:
        yield ValidationError(f"the pattern {pattern!r} does not compile: {exc}")
        return
    if found is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def schema_validator(schema: dict[str, Any]):
    """A validator for ``schema`` in its own dialect, with format assertion and timed patterns."""
    dialect = validators.validator_for(schema, default=Draft202012Validator)
    timed = validators.extend(dialect, {"pattern": _timed_pattern})
    return timed(schema, format_checker=dialect.FORMAT_CHECKER)


def check_answers(schema: dict[str, Any], answers: list[str]) -> list[dict[str, Any]]:
    """{"correct": bool, "reason": why not} per answer."""
    validator = schema_validator(schema)
    out = []
    for answer in answers:
        try:
            instance = parse_answer(answer)
        except NotJSON as exc:
            out.append({"correct": False, "reason": f"not JSON: {exc}"})
            continue
        try:
            error = best_match(validator.iter_errors(instance))
        except Unresolvable as exc:
            raise JudgeRunError(f"the schema's reference cannot be resolved: {exc}") from None
        if error is None:
            out.append({"correct": True})
            continue
        where = "/".join(str(part) for part in error.absolute_path)
        reason = error.message + (f" (at {where})" if where else "")
        out.append({"correct": False, "reason": reason[:MAX_REASON_CHARS]})
    return out
