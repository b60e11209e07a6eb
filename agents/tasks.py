"""Celery tasks of the agents app: training runs on the ``train`` queue."""

from __future__ import annotations

from celery import shared_task

from agents.training_jobs import job_run


# Not acks_late: a run is long and not idempotent half-way; a job whose worker died stays
# "running" until the operator fails it (a redelivered task would find it running and stop).
@shared_task(name="agents.train_job")
def train_job(job_id: int) -> str | None:
    """Run one queued training job; what became of it (or None when it was not queued)."""
    job = job_run(job_id=job_id)
    return None if job is None else job.status
