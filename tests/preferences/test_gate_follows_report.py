"""The gate follows the judge report: a judge kind measured uninformative against the verifier is
held back from deciding pairs, one measured informative is let back, one never measured keeps what
the creator set."""

from __future__ import annotations

import pytest

from agents.inference.scripted import use_script
from arena.services.matches import match_run_inline
from preferences.models import PairGate
from preferences.services import gate_follow_judge_report, gate_update
from preferences.tasks import follow_judge_reports
from spaces.models import Space
from tests.arena.helpers import form_match, sum_answer
from tests.arena.test_judge_report import biased_pairwise_verdict


@pytest.fixture
def measured_space(space):
    # The space's panel gains a shadow pairwise judge: measured, never counted.
    Space.objects.filter(pk=space.pk).update(
        judge_panel=[*space.judge_panel, {"kind": "pairwise-llm", "shadow": True}]
    )
    space.refresh_from_db()
    return space


def play(space, tier, players, agent_factory, *, correct: list[bool]) -> None:
    alice, bob, _ = players
    for right in correct:
        match = form_match(space, tier, [alice, bob], agent_factory)
        with use_script(sum_answer):
            match_run_inline(match_id=match.pk)
        biased_pairwise_verdict(match, correct=right)


def test_an_uninformative_kind_is_marked_and_an_informative_one_unmarked(
    measured_space, tier, players, agent_factory
):
    gate_update(space=measured_space, uninformative_judge_kinds=["score-llm"])
    play(measured_space, tier, players, agent_factory, correct=[True, False, True, False])
    gate = gate_follow_judge_report(space=measured_space)
    # measured at 2/4: uninformative; score-llm was never measured: the creator's mark stays
    assert sorted(gate.uninformative_judge_kinds) == ["pairwise-llm", "score-llm"]

    play(measured_space, tier, players, agent_factory, correct=[True] * 16)  # 18/20 right
    assert follow_judge_reports() == [measured_space.slug]
    gate = PairGate.objects.get(space=measured_space)
    assert gate.uninformative_judge_kinds == ["score-llm"]


def test_a_space_without_a_verifier_beside_another_judge_is_not_followed(
    space, tier, players, agent_factory
):
    play(space, tier, players, agent_factory, correct=[True, False])
    assert follow_judge_reports() == []  # a verifier alone: nothing to measure
    assert not PairGate.objects.filter(space=space, uninformative_judge_kinds__len__gt=0).exists()
