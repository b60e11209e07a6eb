"""Celery tasks of the agents app: training runs on the ``train`` queue."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents.training_jobs import job_run, jobs_reap


# Not acks_late: a run is long and not idempotent half-way; a job whose worker died stays
# "running" until ``reap_training_jobs`` fails and refunds it (a redelivered task would find it
# running and stop).
@shared_task(
    name="agents.train_job",
    # A run takes minutes to hours: its own limits, not the match steps'. The soft limit raises
    # inside the run, which fails the job and refunds it.
    soft_time_limit=settings.ARENA_TRAINING_TIME_LIMIT_S,
    time_limit=settings.ARENA_TRAINING_TIME_LIMIT_S + 60,
)
def train_job(job_id: int) -> str | None:
    """Run one queued training job; what became of it (or None when it was not queued)."""
    job = job_run(job_id=job_id)
    return None if job is None else job.status


@shared_task(name="agents.reap_training_jobs")
def reap_training_jobs() -> list[int]:
    """Every 5 minutes (beat): fail and refund jobs whose worker died mid-run."""
    return jobs_reap()
