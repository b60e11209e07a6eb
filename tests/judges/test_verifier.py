"""The verifier judge: exact, numeric with tolerance, regex."""

from __future__ import annotations

import pytest

from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import VerifierJudge
from judges.panel import run_panel


def verify(config: dict, reference: str, answers: list[str]) -> list[float]:
    judge = VerifierJudge({"kind": "verifier", **config})
    return judge.judge(prompt_text="q", reference=reference, answers=answers).points


# --- exact ----------------------------------------------------------------------------------


def test_it_compares_exact_answers_ignoring_whitespace_and_case_by_default():
    points = verify({"mode": "exact"}, "Paris", ["  paris\n", "PARIS", "Paris.", "Pa ris", ""])
    assert points == [1, 1, 0, 0, 0]


def test_it_collapses_inner_whitespace_for_exact_answers():
    assert verify({"mode": "exact"}, "New  York\tCity", ["new york city", "newyork city"]) == [1, 0]


def test_it_respects_case_when_asked():
    config = {"mode": "exact", "case_sensitive": True}
    assert verify(config, "Paris", ["Paris", "paris", " Paris "]) == [1, 0, 1]


def test_it_refuses_to_judge_exact_answers_without_a_reference():
    with pytest.raises(JudgeRunError, match="non-empty reference"):
        verify({"mode": "exact"}, "  ", ["a"])


# --- numeric --------------------------------------------------------------------------------


def test_it_reads_the_last_number_of_the_answer():
    answers = [
        "2 + 2 = 4",
        "First 3, then 5, so the answer is 4.",
        "The answer is 4 apples",
        "4.0",
        "I think it's 5",
        "four",
        "",
    ]
    assert verify({"mode": "numeric"}, "4", answers) == [1, 1, 1, 1, 0, 0, 0]


def test_it_explains_an_answer_without_a_number():
    judge = VerifierJudge({"kind": "verifier", "mode": "numeric"})
    result = judge.judge(prompt_text="q", reference="4", answers=["no idea", "-4"])
    assert result.points == [0, 0]
    assert result.details["answers"][0] == {
        "correct": False,
        "parsed": None,
        "reason": "no number in the answer",
    }
    assert result.details["answers"][1]["parsed"] == "-4"


def test_it_reads_signs_thousands_fractions_and_exponents():
    config = {"mode": "numeric"}
    assert verify(config, "-3", ["x = -3", "x = −3", "5-3"]) == [1, 1, 0]
    assert verify(config, "1234567.5", ["total: 1,234,567.5", "1234567.50"]) == [1, 1]
    assert verify(config, "0.75", ["3/4", "3 / 4 of it", "0.75"]) == [1, 1, 1]
    assert verify(config, "1/3", ["1/3", "0.3333"]) == [1, 0]
    assert verify(config, "6.02e23", ["6.02E23 atoms", "602000000000000000000000"]) == [1, 1]


def test_it_includes_the_absolute_tolerance_boundary():
    config = {"mode": "numeric", "tolerance": "0.1"}
    # Exact decimal arithmetic: 0.3 - 0.2 is exactly 0.1, inside the boundary.
    assert verify(config, "0.2", ["0.3", "0.1", "0.30001", "0.09999", "0.2"]) == [1, 1, 0, 0, 1]


def test_it_applies_a_relative_tolerance():
    config = {"mode": "numeric", "rel_tolerance": "0.01"}
    assert verify(config, "200", ["202", "198", "202.01", "197.99"]) == [1, 1, 0, 0]
    # The larger of the two tolerances wins.
    both = {"mode": "numeric", "tolerance": "5", "rel_tolerance": "0.01"}
    assert verify(both, "200", ["205", "205.5"]) == [1, 0]


def test_it_treats_zero_tolerance_as_exact_numeric_equality():
    assert verify({"mode": "numeric"}, "2", ["2.000", "2.0001", "+2"]) == [1, 0, 1]


def test_it_scores_unusable_numbers_as_wrong_without_failing():
    assert verify({"mode": "numeric"}, "1", ["1e999999", "1/0", "1"]) == [0, 0, 1]


def test_it_fails_clearly_when_the_reference_has_no_number():
    with pytest.raises(JudgeRunError, match="has no number"):
        verify({"mode": "numeric"}, "unknown", ["4"])


# --- regex ----------------------------------------------------------------------------------


def test_it_fullmatches_a_regex_by_default():
    config = {"mode": "regex", "pattern": r"\d{3}-\d{4}"}
    assert verify(config, "", ["555-1234", " 555-1234\n", "call 555-1234", "55-1234"]) == [
        1,
        1,
        0,
        0,
    ]


def test_it_searches_with_a_regex_when_asked():
    config = {"mode": "regex", "pattern": r"\bhaiku\b", "match": "search"}
    assert verify(config, "", ["a haiku about rain", "haikus", "(?i)HAIKU"]) == [1, 0, 0]
    insensitive = {"mode": "regex", "pattern": r"(?i)\bhaiku\b", "match": "search"}
    assert verify(insensitive, "", ["HAIKU here"]) == [1]


def test_it_gives_up_on_a_catastrophic_regex_instead_of_hanging():
    judge = VerifierJudge({"kind": "verifier", "mode": "regex", "pattern": r"(a|aa)+$"})
    result = judge.judge(prompt_text="q", reference="", answers=["a" * 5000 + "!", "aaa"])
    assert result.points == [0, 1]
    assert "timed out" in result.details["answers"][0]["reason"]


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "mode must be one of"),
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"mode": "regex"}, "needs a pattern"),
        ({"mode": "regex", "pattern": "(["}, "does not compile"),
        ({"mode": "regex", "pattern": "x" * 501}, "at most 500"),
        ({"mode": "regex", "pattern": "x", "match": "prefix"}, "match must be one of"),
        ({"mode": "numeric", "tolerance": 0.1}, "decimal string"),
        ({"mode": "numeric", "tolerance": "abc"}, "not a decimal"),
        ({"mode": "numeric", "tolerance": "NaN"}, "not a finite"),
        ({"mode": "numeric", "tolerance": "-1"}, ">= 0"),
        ({"mode": "numeric", "rel_tolerance": "-0.1"}, ">= 0"),
        ({"mode": "exact", "tolerance": "1"}, "only applies to mode numeric"),
        ({"mode": "exact", "pattern": "x"}, "only applies to mode regex"),
        ({"mode": "numeric", "case_sensitive": True}, "case_sensitive"),
        ({"mode": "exact", "case_sensitive": "yes"}, "case_sensitive"),
        ({"mode": "exact", "colour": "red"}, "unknown key(s) colour"),
    ],
)
def test_it_refuses_a_bad_config_with_a_clear_error(config, message):
    with pytest.raises(JudgeConfigError) as caught:
        VerifierJudge({"kind": "verifier", **config})
    assert message in str(caught.value)


def test_it_normalises_its_config():
    judge = VerifierJudge({"kind": "verifier", "mode": "numeric", "tolerance": " 0.50 "})
    assert judge.config.canonical() == {"kind": "verifier", "mode": "numeric", "tolerance": "0.50"}


def regex_panel_ranks(pattern: str, reference: str, answers: list[str]) -> list[int]:
    """The ranks a panel of one regex verifier (match: search) gives ``answers``."""
    config = {"kind": "verifier", "mode": "regex", "match": "search", "pattern": pattern}
    outcome = run_panel(
        panel_config=[config], prompt_text="?", reference=reference, answers=answers
    )
    return outcome.ranks


def test_it_substitutes_the_escaped_reference_into_a_regex_pattern():
    answers = ["The capital of Egypt is cairo.", "It is Alexandria.", "Cairoville"]
    assert regex_panel_ranks(r"(?i)\b{reference}\b", "Cairo", answers) == [1, 2, 2]


def test_it_escapes_regex_characters_in_the_reference():
    ranks = regex_panel_ranks(r"answer: {reference}$", "a.b", ["answer: a.b", "answer: axb"])
    assert ranks == [1, 2]
