"""Periodic work of the learning app (registered in ``LearningConfig.ready``)."""

from __future__ import annotations

from celery import shared_task

from agents.models import TrainingJob
from learning.gate import gate_run
from learning.practice import practice_play
from learning.services import schedule_training


@shared_task(name="learning.schedule_training")
def schedule_training_task() -> list[int]:
    """Every 5 minutes (beat): queue a training job for every agent with K new pairs."""
    return schedule_training()


@shared_task(name="learning.judge_gate")
def judge_gate(job_id: int) -> str:
    """Play a finished job's promotion gate (once: a redelivered task returns the first run)."""
    return gate_run(job=TrainingJob.objects.get(pk=job_id)).status


@shared_task(name="learning.judge_practice")
def judge_practice(run_id: int) -> str:
    """Play a practice run's games (judge queue, like the gate; once: a redelivery finds it
    claimed)."""
    return practice_play(run_id=run_id).status
