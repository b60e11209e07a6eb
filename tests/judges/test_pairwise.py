"""The pairwise-llm judge: both orders, a tie when they disagree, round-robin points."""

from __future__ import annotations

import pytest

from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import JudgeContext, PairwiseLLMJudge
from tests.judges.helpers import Recorder, always_first, keyword, longer, shown_answers


def make(prefer, **config) -> tuple[PairwiseLLMJudge, Recorder]:
    recorder = Recorder(prefer)
    judge = PairwiseLLMJudge(
        {"kind": "pairwise-llm", **config}, context=JudgeContext(label_probabilities=recorder)
    )
    return judge, recorder


def test_it_asks_in_both_orders_and_awards_a_consistent_preference():
    judge, recorder = make(longer)
    result = judge.judge(prompt_text="Write", reference="", answers=["short", "much longer"])
    assert result.points == [0, 1]
    assert result.max_points == 1
    assert [shown_answers(m) for m in recorder.calls] == [
        ("short", "much longer"),
        ("much longer", "short"),
    ]
    [pair] = result.details["pairs"]
    assert pair["winner"] == 1 and pair["by"] == "model"
    assert pair["p_ab"] == [0.3, 0.7] and pair["p_ba"] == [0.8, 0.2]


def test_it_calls_a_tie_when_the_orders_disagree():
    judge, _ = make(always_first)  # a pure position bias: prefers whatever is shown first
    result = judge.judge(prompt_text="Write", reference="", answers=["one", "two", "three"])
    assert result.points == [1, 1, 1]
    assert all(
        p["winner"] is None and p["by"] == "model-disagreed" for p in result.details["pairs"]
    )


def test_it_calls_a_tie_when_the_labels_are_level():
    judge, _ = make(longer)
    result = judge.judge(prompt_text="Write", reference="", answers=["abc", "xyz"])
    assert result.points == [0.5, 0.5]


def test_it_plays_a_round_robin_with_half_points_for_ties():
    judge, recorder = make(keyword("rain"))
    answers = ["sun", "rain falls", "rain again", "snow"]
    result = judge.judge(prompt_text="Write about rain", reference="", answers=answers)
    # The two rain answers beat the two others and tie with each other; same for the others.
    assert result.points == [0.5, 2.5, 2.5, 0.5]
    assert result.max_points == 3
    assert len(recorder.calls) == 2 * 6


def test_it_needs_no_model_for_identical_or_blank_answers():
    judge, recorder = make(always_first)
    result = judge.judge(prompt_text="Write", reference="", answers=["same", " same\n", "  "])
    assert result.points == [1.5, 1.5, 0]
    assert [p["by"] for p in result.details["pairs"]] == ["identical", "blank", "blank"]
    assert recorder.calls == []


def test_it_shows_the_task_the_reference_and_the_instructions_to_the_model():
    judge, recorder = make(longer, instructions="Prefer brevity.", max_answer_chars=100)
    judge.judge(prompt_text="What is 2+2?", reference="4", answers=["four", "x" * 500])
    system, user = recorder.calls[0]
    assert system == {"role": "system", "content": "Prefer brevity."}
    assert "What is 2+2?" in user["content"] and "Reference answer:\n4" in user["content"]
    assert "x" * 100 + " [...]" in user["content"] and "x" * 101 not in user["content"]


def test_it_fails_clearly_when_the_model_returns_garbage():
    judge, _ = make(lambda a, b: [float("nan"), 0.5])
    with pytest.raises(JudgeRunError, match="unusable probabilities"):
        judge.judge(prompt_text="Write", reference="", answers=["a", "bb"])
    judge, _ = make(lambda a, b: [0.5])
    with pytest.raises(JudgeRunError, match="unusable probabilities"):
        judge.judge(prompt_text="Write", reference="", answers=["a", "bb"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"instructions": ""}, "instructions"),
        ({"instructions": 3}, "instructions"),
        ({"instructions": "x" * 2001}, "instructions"),
        ({"max_answer_chars": 10}, "max_answer_chars"),
        ({"max_answer_chars": True}, "max_answer_chars"),
        ({"temperature": 0.5}, r"unknown key\(s\) temperature"),
    ],
)
def test_it_refuses_a_bad_config(config, message):
    with pytest.raises(JudgeConfigError, match=message):
        PairwiseLLMJudge({"kind": "pairwise-llm", **config})
