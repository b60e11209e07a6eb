"""A training job through real Celery workers: queued by the owner's request, run by a worker of
the ``train`` queue, then its promotion gate by a worker of the ``judge`` queue."""

from __future__ import annotations

from agents.models import TrainingJob
from learning.models import GateRun, TrainingProof
from learning.services import training_request
from tests.arena.conftest import worker_backend, worker_pool  # noqa: F401 - fixtures
from tests.arena.workers import start_worker, wait_for


def test_a_job_runs_on_the_train_queue_and_its_gate_on_the_judge_queue(
    worker_pool,  # noqa: F811 - the imported fixture
    tmp_path,
    trainee,
):
    trainer = start_worker(tmp_path, queues="train")
    worker_pool.append(trainer)
    job = training_request(agent=trainee, space=trainee.space, seed=6)

    def finished():
        job.refresh_from_db()
        return job.status in ("succeeded", "failed")

    wait_for(finished, 240, "the train worker to finish the job")
    assert job.status == "succeeded", (job.error, trainer.log())
    assert "agents.train_job" in trainer.log()
    assert TrainingProof.objects.filter(job=job).exists()
    assert not GateRun.objects.filter(job=job).exists()  # no judge worker yet: queued, waiting

    judge = start_worker(tmp_path, queues="judge")
    worker_pool.append(judge)
    gate = wait_for(
        lambda: GateRun.objects.filter(job=job).exclude(status="running").first(),
        240,
        "the judge worker to run the gate",
    )
    # the trio space has no held-out prompts: the gate says so and nothing goes live
    assert gate.status == "error" and "held-out" in gate.detail, judge.log()
    assert TrainingJob.objects.get(pk=job.pk).agent.current_adapter_id != job.result_id
