"""What of a verdict the public may see.

A verifier in mode ``tests`` keeps, per test, why it failed; the message of that failure (an
exception's text, from the answer's own code) is the answer's output. A hostile answer can put
anything there (on main, an answer carried the server's secrets out that way), so it is shown
only to the people with a stake in the match: its participants, the space's creator and staff
(``arena`` decides who that is). Everyone else sees the verdict without it.
"""

from __future__ import annotations

from typing import Any

from judges.kinds.code_tests import known_reason

# Keys of a test's result that hold text produced by answer code.
ANSWER_TEXT_KEYS = frozenset({"message", "stdout", "stderr"})


def public_verdict_data(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a verdict's data without the text that came from answer code."""
    details = data.get("details")
    if not isinstance(details, dict) or not isinstance(details.get("answers"), list):
        return data
    answers = []
    for answer in details["answers"]:
        if isinstance(answer, dict) and isinstance(answer.get("tests"), list):
            tests = [_public_test(t) if isinstance(t, dict) else t for t in answer["tests"]]
            answer = {**answer, "tests": tests}
        answers.append(answer)
    return {**data, "details": {**details, "answers": answers}}


def _public_test(result: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in result.items() if k not in ANSWER_TEXT_KEYS}
    # The sandbox already keeps reasons to a fixed vocabulary; a verdict stored before it did
    # may still name an answer's own exception class.
    if "reason" in out and not known_reason(str(out["reason"])):
        out["reason"] = "exception"
    return out
