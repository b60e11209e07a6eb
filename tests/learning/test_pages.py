"""The training surfaces in the web app: the agent page's training section (its owner's only),
train now, promote and roll back, the public proof page, and the live progress socket.

Jobs run with real DPO steps on the tiny model (``job_run``, as the worker would), gates with
the scripted backend deciding the answers (tests/learning/conftest.py)."""

from __future__ import annotations

import asyncio
import html
import json
import re

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from agents.inference.scripted import use_script
from agents.models import TrainingJob
from agents.training_jobs import job_create, job_run
from arena.asgi import application
from arena.hooks import agent_page_sections
from learning.gate import gate_run
from learning.models import TrainingProof
from learning.selectors import pairs_for_job
from learning.services import example_of, training_request, version_promote
from spaces.services import prompt_create
from tests.arena.conftest import balance

SECTION = "/agents/{}/training/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def section(client, agent) -> str:
    response = client.get(SECTION.format(agent.pk), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def text(page: str) -> str:
    """The page's words: tags dropped, entities read, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def train_now(client, agent, **data):
    return client.post(f"/agents/{agent.pk}/training/jobs/", data, **HTMX)


@pytest.fixture
def owner(client, trainee):
    client.force_login(trainee.owner)
    return client


@pytest.fixture
def heldout(trainee):
    for a in range(5, 9):
        prompt_create(
            space=trainee.space, text=f"What is {a} + 1?", reference=str(a + 1), split="heldout"
        )
    return trainee.space


def candidate_right(version):
    """``version`` answers held-out sums right, any other adapter wrong."""

    def answer(request, index):
        a = int(request.messages[-1]["content"].split()[2])
        mine = request.adapter is not None and request.adapter.sha256 == version.sha256
        return str(a + 1) if mine else str(a + 3)

    return answer


@pytest.fixture
def trained(trainee, heldout, settings):
    """Two jobs on the space's four pairs: the first (one pair, asked for every space: no gate)
    made v0, promoted by hand; the second (three pairs, two steps) made v1 from it, and its gate
    passed it (8 games of 8) and made it live."""
    settings.ARENA_GATE_GAMES = 8
    pairs = pairs_for_job(agent=trainee, space=heldout)
    first = job_create(
        agent=trainee,
        examples=[example_of(p) for p in pairs[:1]],
        requested_by="owner",
        seed=3,
    )
    first = job_run(job_id=first.pk)
    assert first.status == "succeeded", first.error
    version_promote(agent=trainee, version=first.result)
    job = job_run(job_id=training_request(agent=trainee, space=heldout, seed=3).pk)
    assert job.status == "succeeded", job.error
    with use_script(candidate_right(job.result)):
        gate = gate_run(job=job)
    assert gate.status == "passed"
    trainee.refresh_from_db()
    return job


def test_the_owner_sees_the_training_section_and_nobody_else_does(client, trainee, bob, staff):
    client.force_login(trainee.owner)
    page = client.get(f"/agents/{trainee.pk}/").content.decode()
    assert f'hx-get="{SECTION.format(trainee.pk)}"' in page
    html = section(client, trainee)
    words = text(html)
    assert "4 new kept pairs since the last job" in words
    assert "Trio 4" in words and "Train now · 7 credits" in words
    assert "No training jobs yet." in words
    assert f'data-training-ws="/ws/agents/{trainee.pk}/"' in html
    assert "data-training-active" not in html  # nothing runs: no polling

    assert agent_page_sections(trainee, bob) == []
    assert agent_page_sections(trainee, staff) == []  # staff too: it spends the owner's credits
    for other in (bob, staff):
        client.force_login(other)
        assert client.get(SECTION.format(trainee.pk), **HTMX).status_code == 404
        assert train_now(client, trainee).status_code == 404
    client.logout()
    assert client.get(SECTION.format(trainee.pk)).status_code == 404
    assert not TrainingJob.objects.exists()


def test_train_now_queues_a_job_and_holds_the_price(owner, trainee):
    before = balance(trainee.owner)
    response = train_now(owner, trainee, space="trio")
    assert response.status_code == 200
    job = TrainingJob.objects.get()
    words = text(response.content.decode())
    assert f"Job #{job.pk} queued on 4 pairs, 7 credits held." in words
    assert (job.status, job.pair_count, job.price, job.space.slug) == ("queued", 4, 7, "trio")
    assert balance(trainee.owner) == before - 7
    assert "0 new kept pairs" in words and "waiting for a trainer" in words
    assert "data-training-active" in response.content.decode()  # polls while it waits


def test_a_plain_form_post_comes_back_to_the_agent_page_with_a_message(owner, trainee):
    response = owner.post(f"/agents/{trainee.pk}/training/jobs/", {"space": "trio"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/agents/{trainee.pk}/"
    job = TrainingJob.objects.get()
    assert f"Job #{job.pk} queued on 4 pairs" in response.content.decode()
    response = owner.post(f"/agents/{trainee.pk}/training/jobs/", {"space": "trio"}, follow=True)
    assert "already has a training job queued or running" in response.content.decode()
    assert TrainingJob.objects.count() == 1


def test_refusals_are_shown_and_change_nothing(owner, trainee, agent_factory, settings):
    before = balance(trainee.owner)
    idle = agent_factory(trainee.owner, name="idle")
    cases = [
        (idle, {}, "Not queued: idle has no new kept preference pairs to train on."),
        (trainee, {"space": "nowhere"}, "There is no space 'nowhere'."),
    ]
    for agent, data, message in cases:
        response = train_now(owner, agent, **data)
        assert response.status_code == 200
        assert message in text(response.content.decode())
    settings.ARENA_TRAINING_PRICE = before + 1
    response = train_now(owner, trainee, space="trio")
    assert "Not queued: cannot pay" in text(response.content.decode())
    assert not TrainingJob.objects.exists() and balance(trainee.owner) == before

    settings.ARENA_TRAINING_PRICE = 7
    assert train_now(owner, trainee, space="trio").status_code == 200
    response = train_now(owner, trainee, space="trio")
    words = text(response.content.decode())
    assert "Not queued: scout already has a training job queued or running." in words
    assert TrainingJob.objects.count() == 1 and balance(trainee.owner) == before - 7


def test_the_section_shows_the_run_its_curves_and_the_versions_gate(owner, trainee, trained):
    html = section(owner, trainee)
    words = text(html)
    proof = TrainingProof.objects.get(job=trained).record
    assert trained.total_steps == 2
    assert f"Job #{trained.pk} succeeded 3 pairs of Trio · owner · 7 credits → v1" in words
    assert "step 2 of 2 (100%)" in words
    assert f"→ v{trained.result.number}" in words and f"proof #{proof.seq}" in words
    curves = json.loads(
        re.search(rf'id="training-chart-{trained.pk}"[^>]*>(.*?)</script>', html).group(1)
    )
    assert curves["steps"] == [1, 2]
    assert curves["loss"] == [row["loss"] for row in trained.metrics]
    assert curves["margin"] == [row["rewards/margins"] for row in trained.metrics]
    assert 'data-series="loss"' in html and 'data-series="margin"' in html
    # the versions, newest first: v1 live by its gate, with its proof; v0 can be rolled back to
    assert (
        f"v1 live {trained.result.sha256[:12]} dpo:{trained.pk} v0 passed 8 games, 8W/0L/0T, "
        f"win rate 1.00 [0.68, 1.00] · promoted #{proof.seq}" in words
    )
    v0, first = trained.parent, TrainingJob.objects.get(result=trained.parent)
    assert f"v0 {v0.sha256[:12]} dpo:{first.pk} – no gate #{proof.seq - 1}" in words
    assert "Roll back to v0" in words and "Promote to" not in words
    assert "data-training-active" not in html  # nothing runs any more


def test_a_finished_job_waits_for_its_gate_with_the_page_polling(owner, trainee):
    job = job_run(job_id=training_request(agent=trainee, space=trainee.space, seed=1).pk)
    assert job.status == "succeeded", job.error
    page = section(owner, trainee)
    assert "queued evaluation games waiting for a worker" in text(page)
    assert "data-training-active" in page  # polls until the gate's result is in
    gate_run(job=job)  # the trio space has no held-out prompts
    page = section(owner, trainee)
    assert "error the space has no held-out prompts to evaluate on; promote by hand" in text(page)
    assert "data-training-active" not in page


def test_promote_and_roll_back_change_the_live_version(owner, trainee, trained, bob):
    v0, v1 = trained.parent, trained.result
    assert trainee.current_adapter_id == v1.pk  # the gate promoted it
    response = owner.post(f"/agents/{trainee.pk}/training/versions/0/promote/", **HTMX)
    assert "Rolled back to v0: it is live now." in text(response.content.decode())
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v0.pk
    assert "Promote to v1" in text(response.content.decode())

    response = owner.post(f"/agents/{trainee.pk}/training/versions/1/promote/", **HTMX)
    assert "Promoted v1: it is live now." in text(response.content.decode())
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v1.pk

    assert owner.post(f"/agents/{trainee.pk}/training/versions/9/promote/").status_code == 404
    owner.force_login(bob)
    assert owner.post(f"/agents/{trainee.pk}/training/versions/0/promote/").status_code == 404
    trainee.refresh_from_db()
    assert trainee.current_adapter_id == v1.pk


def test_anyone_reads_a_proof_record_and_sees_it_verified(client, trained):
    record = trained.proof.record
    html = client.get(f"/proofs/{record.seq}/").content.decode()
    words = text(html)
    assert "VERIFIED" in words and "FAILED" not in words
    payload = record.payload
    for shown in (
        record.hash,
        record.prev_hash,
        payload["base_model"]["sha256"],
        payload["pairs"]["merkle_root"],
        payload["pairs"]["evidence_root"],
        payload["adapter_sha256"],
        *[c["sha256"] for c in payload["checkpoints"]],
    ):
        assert shown in html
    assert "3 preference pairs" in words  # the second job's
    assert f"{len(payload['data_order'])} examples seen" in words
    assert f"record #{record.seq - 1}" in words  # the previous record, linked
    assert "not anchored yet" in words
    assert f"seed {payload['hyperparameters']['seed']}" in words
    assert client.get("/proofs/99/").status_code == 404


def test_a_tampered_record_shows_failed_with_the_problem_named(client, trained):
    record = trained.proof.record
    TrainingJob.objects.filter(pk=trained.pk).update(
        hyperparameters={**trained.hyperparameters, "learning_rate": 1.0}
    )
    payload = {**record.payload, "adapter_sha256": "0" * 64}
    with connection.cursor() as cursor:  # records are append-only: only SQL can edit one
        cursor.execute(
            "UPDATE ledger_chainrecord SET payload = %s WHERE id = %s",
            [json.dumps(payload), record.pk],
        )
    words = text(client.get(f"/proofs/{record.seq}/").content.decode())
    assert "FAILED" in words and "VERIFIED" not in words
    assert f"record {record.seq}: its hash does not match its content" in words
    assert "the job's hyperparameters differ from the record's (edited)" in words
    assert "the job's adapter version is not the one the record names" in words


def session_cookie(user) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def agent_socket(agent, cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/", headers=headers)


def test_progress_reaches_the_owners_socket_and_nobody_elses(trainee, bob, transactional_db):
    """The owner's socket (signed in by the session cookie) gets every step of a job and its
    end; another user's and an anonymous one are refused at the handshake."""
    job = training_request(agent=trainee, space=trainee.space, seed=5)
    cookies = {"owner": session_cookie(trainee.owner), "bob": session_cookie(bob), "nobody": None}

    async def scenario():
        refused = []
        for who in ("bob", "nobody"):
            connected, code = await agent_socket(trainee, cookies[who]).connect()
            refused.append((connected, code))
        comm = agent_socket(trainee, cookies["owner"])
        connected, _ = await comm.connect()
        assert connected
        finished = await asyncio.to_thread(job_run, job_id=job.pk)
        events = [await comm.receive_json_from(timeout=10) for _ in range(3)]
        await comm.disconnect()
        return refused, finished, events

    refused, finished, events = asyncio.run(scenario())
    assert refused == [(False, 4403), (False, 4403)]
    assert finished.status == "succeeded", finished.error
    progress = [e["payload"] for e in events if e["event"] == "training.progress"]
    assert [(p["job"], p["step"], p["total_steps"]) for p in progress] == [
        (job.pk, 1, 2),
        (job.pk, 2, 2),
    ]
    assert progress[0]["loss"] == pytest.approx(finished.metrics[0]["loss"])
    assert progress[1]["margin"] == pytest.approx(finished.metrics[1]["rewards/margins"])
    assert events[-1] == {
        "event": "training.finished",
        "payload": {"job": job.pk, "status": "succeeded", "version": finished.result.number},
    }
