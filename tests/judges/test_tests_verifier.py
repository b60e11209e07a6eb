"""The verifier in mode tests: answers are code, the prompt's tests decide, through run_panel."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from judges.config import normalize_panel
from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import VerifierJudge
from judges.panel import run_panel

TESTS = {"kind": "verifier", "mode": "tests", "timeout_s": 2}
ADD_TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]

ALL_PASS = "Sure:\n```python\ndef add(a, b):\n    return a + b\n```"
HALF_PASS = "```python\ndef add(a, b):\n    return 5\n```"  # right for (2, 3) only
NONE_PASS = "def add(a, b):\n    return a - b - 100\n"


def judge(answers, tests=ADD_TESTS, panel=(TESTS,), **kwargs):
    return run_panel(
        panel_config=list(panel),
        prompt_text="Write add(a, b).",
        reference="",
        answers=answers,
        tests=tests,
        **kwargs,
    )


def test_it_ranks_all_pass_over_half_pass_over_none():
    outcome = judge([NONE_PASS, ALL_PASS, HALF_PASS])
    assert outcome.ranks == [3, 1, 2]
    [verdict] = outcome.verdicts
    assert verdict.points == [0, 2, 1] and verdict.max_points == 2
    assert verdict.scores == [0, 1, 0.5]
    assert [Fraction(t) for t in outcome.totals] == [0, 1, Fraction(1, 2)]
    assert verdict.config == TESTS


def test_it_records_each_test_and_why_it_failed():
    outcome = judge([HALF_PASS, ALL_PASS, "while True: pass", ""])
    details = outcome.verdicts[0].details
    assert (details["mode"], details["tests"], details["timeout_s"]) == ("tests", 2, 2)
    half, full, loop, blank = details["answers"]
    assert half == {
        "correct": False,
        "passed": 1,
        "code": "fenced block",
        "tests": [
            {"passed": True},
            {"passed": False, "reason": "AssertionError", "where": "test"},
        ],
    }
    assert full["correct"] and full["passed"] == 2 and full["code"] == "fenced block"
    assert loop["code"] == "whole answer"
    assert [t["reason"] for t in loop["tests"]] == ["timeout", "timeout"]
    assert blank["tests"] == [{"passed": False, "reason": "no code"}] * 2
    assert outcome.ranks == [2, 1, 3, 3]
    json.dumps([v.as_dict() for v in outcome.verdicts])  # storable as Verdict.data


def test_it_ties_answers_that_pass_the_same_share():
    other_full = "```\nadd = lambda a, b: b + a\n```"
    outcome = judge([ALL_PASS, other_full, NONE_PASS, "syntax error here"])
    assert outcome.ranks == [1, 1, 3, 3]


def test_it_weights_the_share_of_tests_passed_exactly():
    # Three tests: passing 2 of 3 is worth 2/3 of the verifier's weight, exactly.
    tests = [*ADD_TESTS, "assert add(0, 0) == 0"]
    two_of_three = "def add(a, b):\n    return a + b if a else 5\n"
    outcome = judge([two_of_three, ALL_PASS], tests=tests, panel=[{**TESTS, "weight": 3}])
    assert outcome.verdicts[0].points == [2, 3]
    assert outcome.verdicts[0].scores == [2 / 3, 1] and outcome.totals == [2, 3]
    assert outcome.ranks == [2, 1]


def test_it_fails_clearly_without_tests():
    for tests in (None, []):
        with pytest.raises(JudgeRunError, match="needs the prompt's tests"):
            judge([ALL_PASS], tests=tests)
    with pytest.raises(JudgeRunError, match="list of strings"):
        judge([ALL_PASS], tests="assert True")
    with pytest.raises(JudgeRunError, match="list of strings"):
        judge([ALL_PASS], tests=["assert True", 3])


def test_other_modes_and_callers_without_tests_keep_working():
    outcome = run_panel(
        panel_config=[{"kind": "verifier", "mode": "exact"}],
        prompt_text="q",
        reference="Paris",
        answers=["paris", "Rome"],
        tests=ADD_TESTS,  # ignored by a reference verifier
    )
    assert outcome.ranks == [1, 2]


def test_it_fills_in_the_default_timeout():
    assert VerifierJudge({"kind": "verifier", "mode": "tests"}).config.canonical() == TESTS
    assert normalize_panel([{"kind": "verifier", "mode": "tests", "timeout_s": 10}]) == [
        {**TESTS, "timeout_s": 10}
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "tests", "timeout_s": 0}, "timeout_s must be a whole number"),
        ({"mode": "tests", "timeout_s": 11}, "from 1 to 10"),
        ({"mode": "tests", "timeout_s": 2.5}, "timeout_s"),
        ({"mode": "tests", "timeout_s": True}, "timeout_s"),
        ({"mode": "tests", "timeout_s": "2"}, "timeout_s"),
        ({"mode": "exact", "timeout_s": 2}, "only applies to mode tests"),
        ({"mode": "tests", "tolerance": "1"}, "only applies to mode numeric"),
        ({"mode": "tests", "pattern": "x"}, "only applies to mode regex"),
        ({"mode": "tests", "memory": 5}, "unknown key(s) memory"),
    ],
)
def test_it_refuses_a_bad_tests_config(config, message):
    with pytest.raises(JudgeConfigError) as caught:
        VerifierJudge({"kind": "verifier", **config})
    assert message in str(caught.value)


def test_it_refuses_a_test_the_sandbox_cannot_run_for_any_answer():
    """A callback cannot cross to the answer's sandbox: when no answer could be judged by a
    test, judging fails (the match is refunded) and says which test, instead of ranking on it."""
    tests = ["assert add(2, 3) == 5", "assert apply(lambda x: x + 1, 1) == 2"]
    code = ALL_PASS.replace("```python\n", "```python\ndef apply(f, x):\n    return f(x)\n")
    with pytest.raises(JudgeRunError, match="test 2 .* cannot do"):
        judge([code, code.replace("a + b", "a - b")], tests=tests)
    # One answer without code does not make the test usable.
    with pytest.raises(JudgeRunError, match="test 2"):
        judge([code, ""], tests=tests)
