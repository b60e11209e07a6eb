"""The judge-config schema (judges.config): what a panel may hold, its stored form, what each
judge needs on a prompt, and the check spaces runs with it. Each kind's own fields are tested
with the kind (test_verifier.py, test_tests_verifier.py, test_pairwise.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from judges.config import (
    KIND_CONFIGS,
    MAX_JUDGES,
    SpacePanelChecker,
    normalize_panel,
    parse_panel,
)
from judges.errors import JudgeConfigError
from judges.kinds import KINDS
from spaces import hooks
from spaces.hooks import JudgeNeeds

NUMERIC = {"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}
PAIRWISE = {"kind": "pairwise-llm"}
SCORE = {"kind": "score-llm", "rubric": "Vivid beats vague."}
HTTP = {"kind": "http-llm", "base_url": "https://judge.example/v1", "model": "judge-1"}


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        ([], "non-empty list"),
        ({"kind": "verifier"}, "non-empty list"),
        ((NUMERIC,), "non-empty list"),
        ([NUMERIC] * (MAX_JUDGES + 1), f"at most {MAX_JUDGES}"),
        (["verifier"], r"judge_panel\[0\] must be a JSON object"),
        # the discriminator: kind names the model
        ([NUMERIC, {"kind": "oracle"}], r"judge_panel\[1\]: unknown judge kind 'oracle'"),
        ([{"mode": "exact"}], "unknown judge kind None"),
        ([{"kind": ["verifier"]}], r"unknown judge kind \['verifier'\]"),
        ([{"kind": "verifier", "mode": "regex", "pattern": "(["}], "does not compile"),
        # weight, which every kind has
        ([{**NUMERIC, "weight": 0}], "weight must be an integer from 1 to 100"),
        ([{**NUMERIC, "weight": 101}], "weight must be an integer from 1 to 100, not 101"),
        ([{**NUMERIC, "weight": 1.5}], "weight"),
        ([{**NUMERIC, "weight": True}], "weight"),
        ([{**NUMERIC, "weight": "2"}], "weight"),
        ([{**NUMERIC, "weight": None}], "weight"),
    ],
)
def test_it_refuses_a_bad_panel_with_a_clear_error(panel, message):
    with pytest.raises(JudgeConfigError, match=message):
        parse_panel(panel)


def test_it_refuses_unknown_keys_and_lists_the_allowed_ones():
    with pytest.raises(JudgeConfigError) as caught:
        parse_panel([{**PAIRWISE, "temperature": 0.5, "top_p": 1}])
    assert caught.value.messages == [
        "judge_panel[0]: unknown key(s) temperature, top_p; "
        "allowed: instructions, kind, max_answer_chars, shadow, tie_margin, weight"
    ]


def test_it_refuses_a_value_of_the_wrong_type_without_coercing_it():
    for config, field in [
        ({"kind": "verifier", "mode": "tests", "timeout_s": "2"}, "timeout_s"),
        ({"kind": "verifier", "mode": "exact", "case_sensitive": 1}, "case_sensitive"),
        ({"kind": "verifier", "mode": "numeric", "tolerance": 0}, "tolerance"),
        ({"kind": "pairwise-llm", "max_answer_chars": 500.0}, "max_answer_chars"),
        ({"kind": "pairwise-llm", "tie_margin": "0.2"}, "tie_margin"),
        ({"kind": "pairwise-llm", "tie_margin": True}, "tie_margin"),
        ({**SCORE, "max_answer_chars": "500"}, "max_answer_chars"),
        ({**HTTP, "timeout_s": 1.5}, "timeout_s"),
    ]:
        with pytest.raises(JudgeConfigError, match=rf"judge_panel\[0\]: {field} must be"):
            parse_panel([config])


def test_it_names_every_problem_with_its_judge_and_field():
    with pytest.raises(JudgeConfigError) as caught:
        parse_panel(
            [
                NUMERIC,
                {"kind": "verifier", "mode": "exact", "tolerance": "1", "colour": "red"},
                {**PAIRWISE, "max_answer_chars": 5, "weight": 0},
            ]
        )
    assert caught.value.messages == [
        "judge_panel[1]: unknown key(s) colour; allowed: case_sensitive, kind, match, mode, "
        "pattern, rel_tolerance, schema, shadow, timeout_s, tolerance, weight",
        "judge_panel[2]: weight must be an integer from 1 to 100, not 0",
        "judge_panel[2]: max_answer_chars must be an integer from 100 to 20000, not 5",
    ]
    assert str(caught.value) == "; ".join(caught.value.messages)


def test_it_stores_a_panel_with_the_defaults_its_judges_rely_on():
    assert normalize_panel(
        [
            {"kind": "verifier", "mode": "numeric"},
            {"kind": "verifier", "mode": "tests"},
            {"kind": "verifier", "mode": "numeric", "rel_tolerance": " 0.010 ", "weight": 2},
            {**PAIRWISE, "weight": 3},
        ]
    ) == [
        {"kind": "verifier", "mode": "numeric", "tolerance": "0"},
        {"kind": "verifier", "mode": "tests", "timeout_s": 2},
        {
            "kind": "verifier",
            "mode": "numeric",
            "tolerance": "0",
            "rel_tolerance": "0.010",
            "weight": 2,
        },
        {"kind": "pairwise-llm", "weight": 3},
    ]
    stored = normalize_panel([NUMERIC, PAIRWISE])
    assert normalize_panel(stored) == stored == [NUMERIC, PAIRWISE]


def test_it_stores_the_new_kinds_as_given_with_the_schema_under_its_key():
    schema = {"type": "object", "required": ["answer"]}
    panel = [
        {"kind": "verifier", "mode": "json_schema", "schema": schema},
        {**PAIRWISE, "tie_margin": 0.25},
        {**SCORE, "weight": 2},
        {**HTTP, "api_key_env": "ARENA_JUDGE_KEY_MAIN", "timeout_s": 10},
    ]
    assert normalize_panel(panel) == panel
    assert normalize_panel(normalize_panel(panel)) == panel


def test_each_kind_declares_what_it_needs_on_every_prompt():
    exact, tests, pairwise, schema, score, http = parse_panel(
        [
            {"kind": "verifier", "mode": "exact"},
            {"kind": "verifier", "mode": "tests"},
            PAIRWISE,
            {"kind": "verifier", "mode": "json_schema", "schema": {}},
            SCORE,
            HTTP,
        ]
    )
    assert (exact.needs_reference, exact.needs_tests) == (True, False)
    assert (tests.needs_reference, tests.needs_tests) == (False, True)
    assert (pairwise.needs_reference, pairwise.needs_tests) == (False, False)
    assert (schema.needs_reference, schema.needs_tests) == (False, False)
    assert (score.needs_reference, score.needs_tests) == (False, False)
    assert (http.needs_reference, http.needs_tests) == (False, False)


def test_every_kind_has_a_judge_and_a_config_model():
    assert {kind: judge.Config for kind, judge in KINDS.items()} == KIND_CONFIGS


# --- the checker spaces runs -------------------------------------------------------------------


def test_judges_registers_its_checker_with_spaces():
    assert isinstance(hooks.judge_panel_checker(), SpacePanelChecker)


def test_the_checker_gives_spaces_the_stored_panel_or_a_validation_error():
    checker = SpacePanelChecker()
    assert checker.normalize([{"kind": "verifier", "mode": "numeric"}]) == [
        {"kind": "verifier", "mode": "numeric", "tolerance": "0"}
    ]
    with pytest.raises(ValidationError) as caught:
        checker.normalize([NUMERIC, {"kind": "oracle"}, {**PAIRWISE, "x": 1}])
    assert caught.value.messages == [
        "judge_panel[1]: unknown judge kind 'oracle'; known: http-llm, pairwise-llm, score-llm, "
        "verifier",
        "judge_panel[2]: unknown key(s) x; allowed: instructions, kind, max_answer_chars, "
        "shadow, tie_margin, weight",
    ]


def test_the_checker_tells_spaces_what_each_judge_needs():
    needs = SpacePanelChecker().needs([NUMERIC, {"kind": "verifier", "mode": "tests"}, PAIRWISE])
    assert needs == [
        JudgeNeeds(index=0, label="verifier in mode numeric", reference=True, tests=False),
        JudgeNeeds(index=1, label="verifier in mode tests", reference=False, tests=True),
        JudgeNeeds(index=2, label="pairwise-llm", reference=False, tests=False),
    ]
    with pytest.raises(ValidationError, match="unknown judge kind"):
        SpacePanelChecker().needs([{"kind": "oracle"}])
