"""The verifier in mode json_schema: the answer is JSON the space's schema accepts."""

from __future__ import annotations

import pytest

from judges.config import normalize_panel, parse_panel
from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import VerifierJudge
from judges.panel import run_panel

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def check(answers: list[str], schema=PERSON) -> list[dict]:
    judge = VerifierJudge({"kind": "verifier", "mode": "json_schema", "schema": schema})
    result = judge.judge(prompt_text="Describe a person as JSON", reference="", answers=answers)
    assert result.max_points == 1
    assert result.points == [1.0 if c["correct"] else 0.0 for c in result.details["answers"]]
    assert result.details["mode"] == "json_schema"
    return result.details["answers"]


def test_it_accepts_json_the_schema_accepts():
    answers = [
        '{"name": "Ada", "age": 36}',
        ' \n{"name": "Ada", "age": 36, "email": "ada@example.com", "code": "ADA"}\n',
        'Here it is:\n```json\n{"name": "Ada", "age": 36}\n```\nDone.',  # a fenced block
    ]
    assert [c["correct"] for c in check(answers)] == [True, True, True]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"name": "Ada"}', "'age' is a required property"),
        ('{"name": "Ada", "age": -1}', "-1 is less than the minimum of 0 (at age)"),
        ('{"name": "Ada", "age": 3.5}', "3.5 is not of type 'integer' (at age)"),
        ('{"name": "Ada", "age": 1, "x": 1}', "Additional properties are not allowed"),
        ('{"name": "Ada", "age": 1, "email": "nope"}', "'nope' is not a 'email' (at email)"),
        ('{"name": "Ada", "age": 1, "code": "ada"}', "'ada' does not match '^[A-Z]{3}$'"),
        ('{"name": "Ada", "age": NaN}', "not JSON: NaN is not JSON"),
        ("name: Ada", "not JSON: Expecting value"),
        ("", "not JSON"),
        ("[" * 100_000, "not JSON: nested more than 100 levels deep"),
        ('{"a": ' * 101 + "1" + "}" * 101, "nested more than 100 levels deep"),
    ],
)
def test_it_refuses_what_the_schema_does_not_accept_and_says_why(answer, reason):
    [result] = check([answer])
    assert result["correct"] is False
    assert reason in result["reason"]


def test_a_pathological_pattern_times_out_instead_of_stalling_the_judge():
    schema = {"type": "string", "pattern": "(a|aa)+$"}
    [result] = check(['"' + "a" * 5000 + '!"'], schema=schema)
    assert result == {"correct": False, "reason": "the pattern '(a|aa)+$' timed out on this value"}


def test_an_unresolvable_reference_fails_judging():
    schema = {"$ref": "https://schemas.example/person.json"}  # never fetched
    with pytest.raises(JudgeRunError, match="reference cannot be resolved"):
        check(['{"name": "Ada"}'], schema=schema)


def test_it_needs_no_reference_and_ranks_in_a_panel():
    [judge] = parse_panel([{"kind": "verifier", "mode": "json_schema", "schema": PERSON}])
    assert (judge.needs_reference, judge.needs_tests, judge.label) == (
        False,
        False,
        "verifier in mode json_schema",
    )
    outcome = run_panel(
        panel_config=[{"kind": "verifier", "mode": "json_schema", "schema": PERSON}],
        prompt_text="Describe a person as JSON",
        reference="",
        answers=['{"name": "Ada", "age": 36}', "Ada, 36"],
    )
    assert outcome.ranks == [1, 2]
    assert outcome.verdicts[0].config == {
        "kind": "verifier",
        "mode": "json_schema",
        "schema": PERSON,
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "json_schema"}, "a json_schema verifier needs a schema"),
        ({"mode": "json_schema", "schema": "{}"}, "schema must be a JSON Schema object"),
        ({"mode": "json_schema", "schema": {"type": "nope"}}, "not a valid JSON Schema"),
        ({"mode": "json_schema", "schema": {"minimum": "3"}}, "not a valid JSON Schema"),
        ({"mode": "json_schema", "schema": {"pattern": "(["}}, "not a valid JSON Schema"),
        ({"mode": "json_schema", "schema": {"$schema": "https://x.example"}}, "unknown \\$schema"),
        ({"mode": "json_schema", "schema": {"enum": list(range(5000))}}, "at most 20000"),
        ({"mode": "exact", "schema": PERSON}, "schema only applies to mode json_schema"),
        ({"mode": "json_schema", "schema": PERSON, "json_schema": {}}, "unknown key"),
    ],
)
def test_it_refuses_a_bad_schema_when_the_space_is_saved(config, message):
    with pytest.raises(JudgeConfigError, match=message):
        parse_panel([{"kind": "verifier", **config}])


def test_it_checks_a_schema_in_the_dialect_it_names():
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"}
    stored = normalize_panel([{"kind": "verifier", "mode": "json_schema", "schema": draft7}])
    assert stored == [{"kind": "verifier", "mode": "json_schema", "schema": draft7}]
    assert [c["correct"] for c in check(["3", "3.5"], schema=draft7)] == [True, False]


def test_brackets_inside_strings_do_not_count_as_nesting():
    deep_text = '{"name": "' + "[" * 500 + '\\"", "age": 1}'
    [result] = check([deep_text])
    assert result["correct"] is True
