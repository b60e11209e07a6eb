"""The panel: config validation, ranking with ties, combining judges."""

from __future__ import annotations

import dataclasses
import json

import pytest

from judges.errors import JudgeConfigError, JudgeRunError
from judges.panel import competition_ranks, run_panel
from tests.judges.helpers import Recorder, always_first, keyword, longer

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
        label_probabilities=Recorder(longer),
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
        label_probabilities=Recorder(always_first),
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
        label_probabilities=Recorder(keyword("because")),
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
        label_probabilities=Recorder(keyword("because")),
    )
    # 1 + 0 against 0 + 1: exact arithmetic makes these equal, so they share first place.
    assert outcome.ranks == [1, 1]


def test_it_is_deterministic():
    kwargs = dict(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="q",
        reference="4",
        answers=["4", "4!", "3", "four"],
        label_probabilities=Recorder(longer),
    )
    assert run_panel(**kwargs) == run_panel(**kwargs)


def test_it_passes_the_default_model_only_when_a_pairwise_judge_runs():
    recorder = Recorder(longer)
    run_panel(
        panel_config=[NUMERIC],
        prompt_text="q",
        reference="4",
        answers=["4", "5"],
        label_probabilities=recorder,
    )
    assert recorder.calls == []


def test_it_produces_verdicts_the_match_can_store_as_json():
    outcome = run_panel(
        panel_config=[NUMERIC, PAIRWISE],
        prompt_text="q",
        reference="4",
        answers=["4", "5"],
        label_probabilities=Recorder(longer),
    )
    for verdict in outcome.verdicts:
        data = dataclasses.asdict(verdict)
        assert json.loads(json.dumps(data)) == data


def test_it_refuses_a_bad_panel_before_judging():
    # What a bad panel is, and the message, are the schema's (tests/judges/test_config.py).
    recorder = Recorder(longer)
    with pytest.raises(JudgeConfigError, match=r"judge_panel\[1\]: unknown judge kind 'oracle'"):
        run_panel(
            panel_config=[PAIRWISE, {"kind": "oracle"}],
            prompt_text="q",
            reference="4",
            answers=["4", "5"],
            label_probabilities=recorder,
        )
    assert recorder.calls == []


def test_it_refuses_bad_answers():
    with pytest.raises(JudgeRunError, match="no answers"):
        run_panel(panel_config=[NUMERIC], prompt_text="q", reference="4", answers=[])
    with pytest.raises(JudgeRunError, match="string"):
        run_panel(panel_config=[NUMERIC], prompt_text="q", reference="4", answers=["4", None])
