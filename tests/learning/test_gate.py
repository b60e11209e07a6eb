"""The promotion gate: evaluation games of a job's new version against its parent on held-out
prompts, judged by the space's panel; live only when the win rate's 95% lower bound clears 0.5.
Answers come from the scripted backend (the gate's decision is under test) and, in the last
test, from the real local generate on the trainable tiny model."""

from __future__ import annotations

import pytest

from agents.errors import AgentError
from agents.inference.scripted import use_script
from agents.training_jobs import job_run
from arena.services import dispatch
from learning.gate import gate_run, wilson_interval
from learning.models import GateGame, GateRun
from learning.services import training_request, version_promote
from spaces.services import prompt_create

CANDIDATE_RIGHT = "candidate right"
BOTH_RIGHT = "both right"


@pytest.fixture(autouse=True)
def run_here():
    with dispatch.inline():
        yield


@pytest.fixture
def heldout(pairs_space):
    for a in range(5, 9):
        prompt_create(
            space=pairs_space, text=f"What is {a} + 1?", reference=str(a + 1), split="heldout"
        )
    return pairs_space


@pytest.fixture
def trained(trainee, heldout, settings):
    settings.ARENA_GATE_GAMES = 8
    job = job_run(job_id=training_request(agent=trainee, space=heldout, seed=2).pk)
    assert job.status == "succeeded", job.error
    return job


def script(mode: str):
    """The candidate (the job's new adapter) answers right; the baseline right or wrong."""

    def answer(request, index):
        a = int(request.messages[-1]["content"].split()[2])
        is_candidate = request.adapter is not None
        if is_candidate or mode == BOTH_RIGHT:
            return str(a + 1)
        return str(a + 3)

    return answer


def test_the_wilson_interval_matches_the_textbook():
    low, high = wilson_interval(8, 10)  # Wilson (1927): 0.8 of 10 -> [0.490, 0.943]
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_candidate_that_wins_every_game_goes_live(trained, scripted_backend):
    with use_script(script(CANDIDATE_RIGHT)):
        gate = gate_run(job=trained)
    gate.refresh_from_db()  # what was stored, not the object in memory
    assert (gate.status, gate.games, gate.wins, gate.losses, gate.ties) == ("passed", 8, 8, 0, 0)
    assert gate.low > 0.5 and gate.promoted
    trained.agent.refresh_from_db()
    assert trained.agent.current_adapter_id == trained.result_id
    game = gate.game_rows.first()
    assert game.prompt.split == "heldout" and game.outcome == GateGame.Outcome.CANDIDATE
    assert game.verdicts[0]["judge_kind"] == "verifier"
    assert gate_run(job=trained) == gate  # once per job


def test_a_candidate_no_better_than_its_parent_is_refused_and_the_owner_decides(
    trained, scripted_backend
):
    with use_script(script(BOTH_RIGHT)):
        gate = gate_run(job=trained)
    assert (gate.status, gate.ties, gate.win_rate) == ("refused", 8, 0.5)
    assert gate.low < 0.5 < gate.high and not gate.promoted
    agent = trained.agent
    agent.refresh_from_db()
    assert agent.current_adapter_id == trained.parent_id  # still the parent
    version_promote(agent=agent, version=trained.result)  # by hand
    agent.refresh_from_db()
    assert agent.current_adapter_id == trained.result_id
    assert GateRun.objects.get(pk=gate.pk).promoted


def test_a_space_without_held_out_prompts_cannot_gate(trainee, scripted_backend):
    job = job_run(job_id=training_request(agent=trainee, space=trainee.space, seed=2).pk)
    gate = gate_run(job=job)
    assert gate.status == "error" and "no held-out prompts" in gate.detail
    assert not gate.promoted and not gate.game_rows.exists()


def test_a_job_that_failed_has_nothing_to_gate(trainee):
    trainee.base_model.path = "/nonexistent"
    trainee.base_model.save()
    job = job_run(job_id=training_request(agent=trainee, space=trainee.space).pk)
    with pytest.raises(AgentError, match="no new version to gate"):
        gate_run(job=job)
    assert not GateRun.objects.exists()


def test_the_gate_plays_real_generations_of_both_versions(trained, settings):
    settings.ARENA_INFERENCE_BACKEND = "local"
    gate = gate_run(job=trained)
    gate.refresh_from_db()
    # The random tiny model writes noise, which may hold a digit that happens to be right: the
    # tally is whatever the verifier said; the decision must follow it.
    assert gate.games == 8 == gate.wins + gate.losses + gate.ties
    assert gate.status == ("passed" if gate.low > 0.5 else "refused")
    games = list(gate.game_rows.all())
    assert len(games) == 8 and all(g.verdicts[0]["judge_kind"] == "verifier" for g in games)
    assert gate.wins == sum(g.outcome == GateGame.Outcome.CANDIDATE for g in games)
