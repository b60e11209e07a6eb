"""Training jobs from an agent's kept pairs: paid through the ledger, run with real DPO steps on a
tiny random llama, a new adapter version that is not live yet, a proof record in the chain; a
failed run is refunded; bad requests change nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.errors import AgentError
from agents.models import AdapterVersion, TrainingExample, TrainingJob
from agents.training_jobs import job_cancel, job_run, jobs_reap
from arena.services import dispatch
from learning.models import TrainingPolicy, TrainingProof
from learning.proofs import CHAIN, proof_payload
from learning.selectors import new_pairs
from learning.services import agents_due, schedule_training, training_request
from ledger import services as ledger
from ledger.models import AccountKind
from ledger.records import chain_verify
from preferences.models import PreferencePair
from preferences.provenance import merkle_root
from tests.arena.conftest import balance


@pytest.fixture(autouse=True)
def run_here():
    with dispatch.inline():  # the tests run the jobs themselves
        yield


def platform_revenue() -> int:
    return ledger.balance(ledger.system_account(AccountKind.PLATFORM_REVENUE))


def test_a_job_trains_on_the_agents_pairs_and_commits_to_them(trainee):
    owner = trainee.owner
    before, revenue = balance(owner), platform_revenue()
    pairs = list(new_pairs(agent=trainee, space=trainee.space))
    assert len(pairs) == 4

    job = training_request(agent=trainee, space=trainee.space, seed=11)
    assert job.status == "queued" and job.pair_count == 4 and job.price == 7
    assert balance(owner) == before - 7  # held in the job's escrow
    assert [e.pair_id for e in job.examples.all()] == [p.pk for p in pairs]

    job = job_run(job_id=job.pk)
    assert job.status == "succeeded", job.error
    assert job.step == job.total_steps == 2 and len(job.metrics) == 2
    assert {"loss", "rewards/margins", "rewards/accuracies"} <= set(job.metrics[0])
    assert [c["step"] for c in job.checkpoints][-2:] == [1, 2]
    assert len(job.data_order) == 4  # 2 steps of batch 2

    version = job.result
    trainee.refresh_from_db()
    assert version.created_by == f"dpo:{job.pk}" and version.parent is None
    assert trainee.current_adapter_id != version.pk  # not live until the gate says so
    assert version.directory.joinpath("adapter_model.safetensors").exists()
    assert balance(owner) == before - 7 and platform_revenue() == revenue + 7  # paid

    proof = TrainingProof.objects.get(job=job)
    payload = proof.record.payload
    assert proof.record.chain == CHAIN and payload == proof_payload(job)
    assert payload["adapter_sha256"] == version.sha256
    assert payload["pairs"]["ids"] == [p.pk for p in pairs]
    assert payload["pairs"]["merkle_root"] == merkle_root([p.content_sha256 for p in pairs])
    assert payload["checkpoints"] == [
        {"step": c["step"], "sha256": c["sha256"]} for c in job.checkpoints
    ]
    assert payload["hyperparameters"]["seed"] == 11
    assert chain_verify(chain=CHAIN) == []

    # the pairs are spent: a second request has nothing to train on, and changes nothing
    with pytest.raises(AgentError, match="no new kept preference pairs"):
        training_request(agent=trainee, space=trainee.space)
    assert TrainingJob.objects.count() == 1


def test_the_same_seed_gives_the_same_adapter(trainee):
    first = job_run(job_id=training_request(agent=trainee, seed=5).pk)
    TrainingJob.objects.filter(pk=first.pk).update(status="failed")  # free its pairs again
    second = job_run(job_id=training_request(agent=trainee, seed=5).pk)
    assert first.result.sha256 == second.result.sha256
    assert [c["sha256"] for c in first.checkpoints] == [c["sha256"] for c in second.checkpoints]


def test_a_failed_run_is_refunded_and_makes_no_version(trainee):
    trainee.base_model.path = "/nonexistent/model"
    trainee.base_model.save()
    before = balance(trainee.owner)
    job = training_request(agent=trainee, seed=1)
    job = job_run(job_id=job.pk)
    assert job.status == "failed" and "model" in job.error.lower()
    assert balance(trainee.owner) == before
    assert not AdapterVersion.objects.filter(created_by=f"dpo:{job.pk}").exists()
    assert not TrainingProof.objects.exists()
    # its pairs are not spent: they can train again
    assert new_pairs(agent=trainee).count() == 4
    assert job_run(job_id=job.pk) is None  # a redelivered task does nothing


def test_bad_requests_change_nothing(trainee, players):
    owner = trainee.owner
    before = balance(owner)
    job = training_request(agent=trainee)  # queued: a second one is refused
    with pytest.raises(AgentError, match="already has a training job"):
        training_request(agent=trainee)
    assert TrainingJob.objects.count() == 1 and TrainingExample.objects.count() == 4
    job_cancel(job=job)
    assert balance(owner) == before
    with pytest.raises(AgentError, match="only a queued job"):
        job_cancel(job=job)


def test_an_owner_who_cannot_pay_gets_no_job(trainee, settings):
    settings.ARENA_TRAINING_PRICE = balance(trainee.owner) + 1
    with pytest.raises(AgentError, match="cannot pay"):
        training_request(agent=trainee)
    assert not TrainingJob.objects.exists() and not TrainingExample.objects.exists()


def test_a_tampered_pair_never_trains(trainee):
    pair = new_pairs(agent=trainee).first()
    PreferencePair.objects.filter(pk=pair.pk).update(chosen_text="edited after the fact")
    with pytest.raises(AgentError, match="does not match its content hash"):
        training_request(agent=trainee)
    assert not TrainingJob.objects.exists()


def test_agents_train_by_themselves_once_they_have_k_new_pairs(trainee):
    policy = TrainingPolicy.objects.create(space=trainee.space, train_after_pairs=5)
    assert trainee not in agents_due(space=trainee.space)  # 4 < 5
    policy.train_after_pairs = 4
    policy.save()
    assert agents_due(space=trainee.space) == [trainee]
    [job_id] = schedule_training()
    assert TrainingJob.objects.get(pk=job_id).requested_by == "schedule"
    assert schedule_training() == []  # one job at a time


def test_the_train_command_runs_one_job_and_says_what_it_made(trainee, capsys):
    call_command("train", "--agent", str(trainee.pk), "--seed", "3", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "succeeded" and summary["pairs"] == 4
    assert summary["adapter_sha256"] == TrainingJob.objects.get().result.sha256
    assert summary["proof_record"] == TrainingProof.objects.get().record_id
    with pytest.raises(CommandError, match="no new kept preference pairs"):
        call_command("train", "--agent", str(trainee.pk))
    with pytest.raises(CommandError, match="no agent #0"):
        call_command("train", "--agent", "0")


def test_a_job_whose_worker_died_is_failed_and_refunded(trainee, agent_factory, settings):
    before = balance(trainee.owner)
    job = training_request(agent=trainee, seed=1)
    long_ago = timezone.now() - timedelta(seconds=settings.ARENA_TRAINING_TIME_LIMIT_S + 121)
    TrainingJob.objects.filter(pk=job.pk).update(status="running", started_at=long_ago)
    other = agent_factory(trainee.owner)
    recent = TrainingJob.objects.create(
        agent=other, requested_by="owner", settings={}, status="running", started_at=timezone.now()
    )
    assert jobs_reap() == [job.pk]  # the recent one is still within its limit
    job.refresh_from_db()
    assert job.status == "failed" and "stopped answering" in job.error
    assert balance(trainee.owner) == before
    assert TrainingJob.objects.get(pk=recent.pk).status == "running"
    assert jobs_reap() == []
