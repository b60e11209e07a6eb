"""Periodic work of the learning app (registered in ``LearningConfig.ready``)."""

from __future__ import annotations

from celery import shared_task

from learning.services import schedule_training


@shared_task(name="learning.schedule_training")
def schedule_training_task() -> list[int]:
    """Every 5 minutes (beat): queue a training job for every agent with K new pairs."""
    return schedule_training()
