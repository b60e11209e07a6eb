"""The training API: an agent's training overview, train now, promote and roll back (its owner's
only: a 404 for anyone else), the public proof records with their verification status, the
shared rate limit of the writes, and the schema that documents them."""

from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from agents.models import TrainingJob
from learning.proofs import CHAIN
from ledger.records import anchor_chain
from preferences.models import PreferencePair
from tests.arena.conftest import balance
from tests.learning import test_pages

# the fixtures of the pages' tests: a space with held-out prompts, an agent trained twice
heldout, trained = test_pages.heldout, test_pages.trained

TRAINING = "/api/v1/agents/{}/training/"
JOBS = "/api/v1/agents/{}/training/jobs/"
PROMOTE = "/api/v1/agents/{}/versions/{}/promote/"


def api_of(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def owner(trainee) -> APIClient:
    return api_of(trainee.owner)


def test_the_owner_reads_the_agents_training_and_nobody_else_does(owner, trainee, bob):
    response = owner.get(TRAINING.format(trainee.pk))
    assert response.status_code == 200
    assert response.json() == {
        "agent": trainee.pk,
        "price": 7,
        "new_pairs": 4,
        "pairs": [{"space": "trio", "title": "Trio", "count": 4}],
        "jobs": [],
        "versions": [],
    }
    assert api_of(bob).get(TRAINING.format(trainee.pk)).status_code == 404
    assert api_of().get(TRAINING.format(trainee.pk)).status_code in (401, 403)


def test_train_now_queues_a_job_and_holds_the_price(owner, trainee):
    before = balance(trainee.owner)
    response = owner.post(JOBS.format(trainee.pk), {"space": "trio"}, format="json")
    assert response.status_code == 201
    job = TrainingJob.objects.get()
    body = response.json()
    assert body["id"] == job.pk
    assert (body["status"], body["space"], body["pair_count"], body["price"]) == (
        "queued",
        "trio",
        4,
        7,
    )
    assert (body["step"], body["total_steps"], body["metrics"], body["proof_seq"]) == (
        0,
        0,
        [],
        None,
    )
    assert balance(trainee.owner) == before - 7
    listed = owner.get(TRAINING.format(trainee.pk)).json()
    assert listed["new_pairs"] == 0 and [j["id"] for j in listed["jobs"]] == [job.pk]


def test_refusals_answer_400_with_the_reason_and_change_nothing(
    owner, trainee, agent_factory, settings, bob
):
    before = balance(trainee.owner)
    idle = agent_factory(trainee.owner, name="idle")
    refusals = [
        (idle, {}, "idle has no new kept preference pairs to train on"),
        (trainee, {"space": "nowhere"}, "no space 'nowhere'"),
    ]
    for agent, data, message in refusals:
        response = owner.post(JOBS.format(agent.pk), data, format="json")
        assert (response.status_code, response.json()) == (400, {"detail": message})
    response = owner.post(JOBS.format(trainee.pk), {"space": 5}, format="json")
    assert response.status_code == 400 and "space" in response.json()
    assert api_of(bob).post(JOBS.format(trainee.pk), {}, format="json").status_code == 404
    settings.ARENA_TRAINING_PRICE = before + 1
    response = owner.post(JOBS.format(trainee.pk), {}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"cannot pay {before + 1} credits for training")
    assert not TrainingJob.objects.exists() and balance(trainee.owner) == before

    settings.ARENA_TRAINING_PRICE = 7
    assert owner.post(JOBS.format(trainee.pk), {}, format="json").status_code == 201
    response = owner.post(JOBS.format(trainee.pk), {}, format="json")
    assert response.json() == {"detail": "scout already has a training job queued or running"}
    assert TrainingJob.objects.count() == 1 and balance(trainee.owner) == before - 7


def test_the_overview_has_the_jobs_metrics_and_the_versions_gates(owner, trainee, trained):
    body = owner.get(TRAINING.format(trainee.pk)).json()
    first = TrainingJob.objects.get(result=trained.parent)
    job = body["jobs"][0]
    assert [j["id"] for j in body["jobs"]] == [trained.pk, first.pk]
    assert (job["status"], job["step"], job["total_steps"], job["percent"]) == (
        "succeeded",
        2,
        2,
        100,
    )
    assert job["result_version"] == 1 and job["proof_seq"] == trained.proof.record.seq
    assert [(m["step"], m["loss"], m["margin"], m["accuracy"]) for m in job["metrics"]] == [
        (r["step"], r["loss"], r["rewards/margins"], r["rewards/accuracies"])
        for r in trained.metrics
    ]
    v1, v0 = body["versions"]
    assert (v1["number"], v1["live"], v1["parent"], v1["job"], v1["proof_seq"]) == (
        1,
        True,
        0,
        trained.pk,
        trained.proof.record.seq,
    )
    assert v1["sha256"] == trained.result.sha256
    gate = v1["gate"]
    assert (gate["status"], gate["games"], gate["wins"], gate["losses"], gate["ties"]) == (
        "passed",
        8,
        8,
        0,
        0,
    )
    assert gate["win_rate"] == 1.0 and gate["low"] > 0.5 and gate["promoted"]
    assert (v0["number"], v0["live"], v0["parent"], v0["gate"]) == (0, False, None, None)


def test_promote_and_roll_back_change_the_live_version(owner, trainee, trained, bob):
    v0, v1 = trained.parent, trained.result
    response = owner.post(PROMOTE.format(trainee.pk, 0))
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["live"]) == (0, True)
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v0.pk
    assert owner.post(PROMOTE.format(trainee.pk, 1)).json()["live"] is True
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v1.pk

    for client, number in [(owner, 7), (owner, "v0"), (owner, "00000000000001"), (api_of(bob), 0)]:
        response = client.post(PROMOTE.format(trainee.pk, number))
        assert response.status_code == 404, number
    assert api_of().post(PROMOTE.format(trainee.pk, 0)).status_code in (401, 403)
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v1.pk


def test_anyone_reads_a_proof_record_with_its_anchor_and_status(trained):
    record = trained.proof.record
    anchor = anchor_chain(chain=CHAIN)
    response = api_of().get(f"/api/v1/proofs/{record.seq}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["chain"], body["seq"], body["kind"]) == (CHAIN, record.seq, "training-job")
    assert body["payload"] == record.payload
    assert (body["hash"], body["prev_hash"]) == (record.hash, record.prev_hash)
    assert body["anchor"]["tx_hash"] == anchor.tx_hash
    assert body["anchor"]["block_number"] == anchor.block_number
    assert body["anchor"]["up_to_seq"] == record.seq
    assert (body["status"], body["problems"]) == ("verified", [])
    assert api_of().get("/api/v1/proofs/99/").status_code == 404


def test_a_tampered_proof_record_reads_failed_with_the_problem_named(trained):
    record = trained.proof.record
    pair_id = record.payload["pairs"]["ids"][0]
    PreferencePair.objects.filter(pk=pair_id).update(chosen_text="a better answer, made up")
    body = api_of().get(f"/api/v1/proofs/{record.seq}/").json()
    assert body["status"] == "failed"
    assert f"pair #{pair_id} does not match its content hash (edited)" in body["problems"]


def test_the_writes_share_one_rate_limit_with_the_web_buttons(
    owner, trainee, production_rate_limits, client
):
    client.force_login(trainee.owner)
    answers = [owner.post(JOBS.format(trainee.pk), {}, format="json").status_code]
    answers += [client.post(f"/agents/{trainee.pk}/training/jobs/").status_code for _ in range(5)]
    answers += [owner.post(PROMOTE.format(trainee.pk, 0)).status_code for _ in range(4)]
    assert answers == [201] + [302] * 5 + [404] * 4  # ten a minute
    refused = owner.post(JOBS.format(trainee.pk), {}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert client.post(f"/agents/{trainee.pk}/training/jobs/").status_code == 429
    production_rate_limits.advance(60)
    assert owner.post(PROMOTE.format(trainee.pk, 0)).status_code == 404  # counted afresh
    assert TrainingJob.objects.count() == 1


def test_the_schema_documents_the_training_operations(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    assert set(paths["/api/v1/agents/{id}/training/"]) == {"get"}
    assert set(paths["/api/v1/agents/{id}/training/jobs/"]) == {"post"}
    assert set(paths["/api/v1/agents/{id}/versions/{number}/promote/"]) == {"post"}
    proof = paths["/api/v1/proofs/{seq}/"]["get"]
    assert {} in proof["security"]  # public
    jobs = paths["/api/v1/agents/{id}/training/jobs/"]["post"]
    assert {"201", "400", "401", "403", "404", "429"} <= set(jobs["responses"])
