"""The score-llm judge: a rubric score from 1 to 10, the expected value over the digits'
probabilities, one batched call per match."""

from __future__ import annotations

import pytest

from judges.config import parse_panel
from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import JudgeContext, ScoreLLMJudge
from judges.kinds.untrusted import UNTRUSTED_NOTICE, prompt_sha256
from judges.panel import run_panel
from tests.judges.fakes import FakeModel, shown

RUBRIC = "A good haiku has three lines of 5, 7 and 5 syllables."


def one_hot(digit: int) -> list[float]:
    return [1.0 if d == digit else 0.0 for d in range(10)]


def split(low: int, high: int) -> list[float]:
    return [0.5 if d in (low, high) else 0.0 for d in range(10)]


def by_length(answer: str) -> list[float]:
    """A stand-in that likes longer answers: torn between two digits for most of them."""
    return {"ok": split(6, 7), "great poem": one_hot(9), "meh": one_hot(0)}.get(answer, split(2, 5))


def make(model: FakeModel, **config) -> ScoreLLMJudge:
    return ScoreLLMJudge(
        {"kind": "score-llm", "rubric": RUBRIC, **config},
        context=JudgeContext(label_probabilities_batch=model, judge_model="fake"),
    )


def test_the_score_is_one_plus_the_expected_digit():
    model = FakeModel(score=by_length)
    result = make(model).judge(prompt_text="Write a haiku", reference="", answers=["ok", "meh"])
    assert result.points == [pytest.approx(7.5), 1.0]  # 1 + (6 + 7) / 2, and 1 + 0
    assert result.max_points == 10
    [(conversations, labels)] = model.calls
    assert labels == [str(d) for d in range(10)]  # one token each: "10" would share "1"'s
    first = result.details["answers"][0]
    assert first["p"] == split(6, 7) and first["by"] == "model"
    assert first["prompt_sha256"] == prompt_sha256(conversations[0])
    assert result.details["calls"] == 1 and result.details["model"] == "fake"


def test_it_asks_every_distinct_answer_in_one_call_and_scores_blanks_lowest():
    model = FakeModel(score=by_length)
    answers = ["great poem", "other", " great poem ", "", "meh"]
    result = make(model).judge(prompt_text="Write a haiku", reference="", answers=answers)
    assert len(model.calls) == 1
    assert [shown(m)["1"] for m in model.calls[0][0]] == ["great poem", "other", "meh"]
    assert result.points == [10.0, pytest.approx(4.5), 10.0, 1.0, 1.0]
    assert result.details["answers"][3] == {"score": 1.0, "by": "blank"}


def test_probabilities_need_not_sum_to_one():
    model = FakeModel(score=lambda answer: [0.0] * 8 + [0.1, 0.3])  # 1 + (8 + 27) / 4
    result = make(model).judge(prompt_text="t", reference="", answers=["x"])
    assert result.points == [pytest.approx(1 + (8 * 0.1 + 9 * 0.3) / 0.4)]
    model = FakeModel(score=lambda answer: [0.0] * 10)
    assert make(model).judge(prompt_text="t", reference="", answers=["x"]).points == [1.0]


def test_it_shows_the_rubric_and_the_answer_as_untrusted_data():
    model = FakeModel(score=by_length)
    make(model, max_answer_chars=100).judge(
        prompt_text="Write a haiku", reference="an old pond", answers=["y" * 300]
    )
    system, user = model.calls[0][0][0]
    assert RUBRIC in system["content"] and system["content"].endswith(UNTRUSTED_NOTICE)
    assert "from 0 (worst) to 9 (best)" in system["content"]
    assert "Reference answer:\nan old pond" in user["content"]
    assert shown([user])["1"] == "y" * 100 + " [...]"


def test_the_panel_normalises_the_score_out_of_ten():
    outcome = run_panel(
        panel_config=[{"kind": "score-llm", "rubric": RUBRIC}],
        prompt_text="Write a haiku",
        reference="",
        answers=["ok", "great poem"],
        label_probabilities_batch=FakeModel(score=by_length),
    )
    [verdict] = outcome.verdicts
    assert verdict.judge_kind == "score-llm" and verdict.version == 1
    assert verdict.scores == [pytest.approx(0.75), 1.0]
    assert outcome.ranks == [2, 1]


def test_it_fails_clearly_when_the_model_returns_garbage():
    model = FakeModel(score=lambda answer: [0.1] * 9)
    with pytest.raises(JudgeRunError, match="unusable probabilities"):
        make(model).judge(prompt_text="t", reference="", answers=["x"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "rubric must be a non-empty string of at most 2000 characters; it is missing"),
        ({"rubric": "  "}, "rubric must be a non-empty string"),
        ({"rubric": RUBRIC, "max_answer_chars": 5}, "max_answer_chars"),
        ({"rubric": RUBRIC, "scale": 10}, r"unknown key\(s\) scale"),
    ],
)
def test_it_refuses_a_bad_config(config, message):
    with pytest.raises(JudgeConfigError, match=message):
        parse_panel([{"kind": "score-llm", **config}])
