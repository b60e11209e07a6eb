"""The panel: config validation, ranking with ties, combining judges."""

from __future__ import annotations

import dataclasses
import json

import pytest

from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds.untrusted import prompt_sha256
from judges.panel import competition_ranks, run_panel
from tests.judges.fakes import FakeModel, keyword, longer

NUMERIC = {"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}
PAIRWISE = {"kind": "pairwise-llm"}


def test_it_ranks_in_competition_style():
    assert competition_ranks([3, 5, 5, 1]) == [3, 1, 1, 4]
    assert competition_ranks([2, 2, 2]) == [1, 1, 1]
    assert competition_ranks([0, 1, 1, 1, 2]) == [5, 2, 2, 2, 1]


def test_it_ties_two_correct_answers_for_first_place():
    outcome = run_panel(
        panel_config=[NUMERIC],
        prompt_text="2+2?",
        reference="4",
        answers=["5", "It is 4", "4.0005", "no idea"],
    )
    assert outcome.ranks == [3, 1, 1, 3]
    [verdict] = outcome.verdicts
    assert verdict.judge_kind == "verifier" and verdict.index == 0
    assert verdict.points == [0, 1, 1, 0] and verdict.scores == [0, 1, 1, 0]
    assert verdict.config == NUMERIC
    assert verdict.details["answers"][1] == {"correct": True, "parsed": "4"}


def test_it_ties_everyone_when_all_answers_are_wrong():
    outcome = run_panel(
        panel_config=[NUMERIC], prompt_text="q", reference="4", answers=["1", "2", "3"]
    )
    assert outcome.ranks == [1, 1, 1]


def test_it_turns_pairwise_results_into_a_ranking():
    outcome = run_panel(
        panel_config=[PAIRWISE],
        prompt_text="Write",
        reference="",
        answers=["bb", "a", "dddd", "ccc"],
        label_probabilities_batch=FakeModel(longer()),
    )
    assert outcome.ranks == [3, 4, 1, 2]
    assert outcome.verdicts[0].points == [1, 0, 3, 2]
    assert outcome.verdicts[0].max_points == 3


def test_it_ranks_a_position_biased_judge_as_a_tie_for_all():
    outcome = run_panel(
        panel_config=[PAIRWISE],
        prompt_text="Write",
        reference="",
        answers=["x", "yy", "zzz"],
        label_probabilities_batch=FakeModel(bias=1.5),  # prefers slot A, nothing else
    )
    assert outcome.ranks == [1, 1, 1]


def test_it_sums_normalised_points_of_several_judges():
    # The verifier says answers 0 and 1 are right; the pairwise judge (prefers "because")
    # splits them: right-with-reason first, right-without second, the wrong ones after.
    answers = ["4", "because 2+2 = 4", "5 because", "7"]
    outcome = run_panel(
        panel_config=[{**NUMERIC, "weight": 2}, PAIRWISE],
        prompt_text="2+2?",
        reference="4",
        answers=answers,
        label_probabilities_batch=FakeModel(keyword("because")),
    )
    # pairwise points: 0 -> 0.5 (ties 7) of 3, 1 -> 2.5, 2 -> 2.5, 3 -> 0.5
    assert outcome.verdicts[1].points == [0.5, 2.5, 2.5, 0.5]
    assert outcome.totals == pytest.approx([2 + 1 / 6, 2 + 5 / 6, 5 / 6, 1 / 6])
    assert outcome.ranks == [2, 1, 3, 4]


def test_it_lets_equal_weights_tie_a_correct_loser_with_a_wrong_winner():
    outcome = run_panel(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="2+2?",
        reference="4",
        answers=["4", "5 because"],
        label_probabilities_batch=FakeModel(keyword("because")),
    )
    # 1 + 0 against 0 + 1: exact arithmetic makes these equal, so they share first place.
    assert outcome.ranks == [1, 1]


def test_it_is_deterministic():
    kwargs = dict(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="q",
        reference="4",
        answers=["4", "4!", "3", "four"],
        label_probabilities_batch=FakeModel(longer()),
    )
    assert run_panel(**kwargs) == run_panel(**kwargs)


def test_it_passes_the_default_model_only_when_a_pairwise_judge_runs():
    recorder = FakeModel(longer())
    run_panel(
        panel_config=[NUMERIC],
        prompt_text="q",
        reference="4",
        answers=["4", "5"],
        label_probabilities_batch=recorder,
    )
    assert recorder.calls == []


def test_it_produces_verdicts_the_match_can_store_as_json():
    outcome = run_panel(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="q",
        reference="4",
        answers=["4", "5"],
        label_probabilities_batch=FakeModel(longer()),
    )
    for verdict in outcome.verdicts:
        data = dataclasses.asdict(verdict)
        assert json.loads(json.dumps(data)) == data


def test_it_refuses_a_bad_panel_before_judging():
    # What a bad panel is, and the message, are the schema's (tests/judges/test_config.py).
    recorder = FakeModel(longer())
    with pytest.raises(JudgeConfigError, match=r"judge_panel\[1\]: unknown judge kind 'oracle'"):
        run_panel(
            panel_config=[PAIRWISE, {"kind": "oracle"}],
            prompt_text="q",
            reference="4",
            answers=["4", "5"],
            label_probabilities_batch=recorder,
        )
    assert recorder.calls == []


def test_it_refuses_bad_answers():
    with pytest.raises(JudgeRunError, match="no answers"):
        run_panel(panel_config=[NUMERIC], prompt_text="q", reference="4", answers=[])
    with pytest.raises(JudgeRunError, match="string"):
        run_panel(panel_config=[NUMERIC], prompt_text="q", reference="4", answers=["4", None])


def test_every_verdict_records_its_kind_version_prompts_orders_and_raw_output():
    model = FakeModel(longer(), score=lambda answer: [0.1] * 10)
    outcome = run_panel(
        panel_config=[NUMERIC, PAIRWISE, {"kind": "score-llm", "rubric": "Be right."}],
        prompt_text="2+2?",
        reference="4",
        answers=["4", "it is 5"],
        label_probabilities_batch=model,
        judge_model="fake-judge",
    )
    numeric, pairwise, score = (dataclasses.asdict(v) for v in outcome.verdicts)
    assert [v["judge_kind"] for v in (numeric, pairwise, score)] == [
        "verifier",
        "pairwise-llm",
        "score-llm",
    ]
    assert [v["version"] for v in (numeric, pairwise, score)] == [1, 2, 1]
    # The pairwise judge: both orders, each one's exact prompt hash and probabilities, the
    # prior, the margin and the result.
    shown = {prompt_sha256(c): c for batch, _ in model.calls for c in batch}
    [pair] = pairwise["details"]["pairs"]
    assert pair["orders"] == [[0, 1], [1, 0]]
    assert all(h in shown for h in pair["prompt_sha256"])
    assert {"p_ab", "p_ba", "l_ab", "l_ba", "bias", "margin", "winner", "by"} <= set(pair)
    assert pairwise["details"]["model"] == "fake-judge"
    assert pairwise["details"]["prior"]["source"] == "probe"
    assert pairwise["details"]["tie_margin"] == 0.1
    # The score judge: each answer's prompt hash, probabilities and score.
    for answer in score["details"]["answers"]:
        assert answer["prompt_sha256"] in shown
        assert answer["p"] == [0.1] * 10 and answer["score"] == pytest.approx(5.5)
    assert len(model.calls) == 2  # one batched call per LLM judge


def test_a_one_conversation_function_still_works_and_names_the_model():
    def single(messages, labels):
        return FakeModel(longer()).one(messages, labels)

    outcome = run_panel(
        panel_config=[PAIRWISE],
        prompt_text="Write",
        reference="",
        answers=["a", "bb"],
        label_probabilities=single,
    )
    assert outcome.ranks == [2, 1]
    assert outcome.verdicts[0].details["model"] == "injected"


def test_a_shadow_judge_is_recorded_but_never_counted():
    answers = ["4", "5 because"]
    counted = run_panel(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="2+2?",
        reference="4",
        answers=answers,
        label_probabilities_batch=FakeModel(keyword("because")),
    )
    shadowed = run_panel(
        panel_config=[NUMERIC, {**PAIRWISE, "shadow": True, "weight": 50}],
        prompt_text="2+2?",
        reference="4",
        answers=answers,
        label_probabilities_batch=FakeModel(keyword("because")),
    )
    assert counted.ranks == [1, 1]  # the pairwise judge counts: a tie
    assert shadowed.ranks == [1, 2] and shadowed.totals == [1.0, 0.0]  # only the verifier
    # ... yet its verdict is there, whole, marked as a shadow
    assert shadowed.verdicts[1].points == [0, 1]
    assert shadowed.verdicts[1].config == {"kind": "pairwise-llm", "shadow": True, "weight": 50}


def test_a_panel_of_shadows_alone_is_refused():
    with pytest.raises(JudgeConfigError, match="every judge is a shadow"):
        run_panel(
            panel_config=[{**NUMERIC, "shadow": True}],
            prompt_text="q",
            reference="4",
            answers=["4"],
        )
