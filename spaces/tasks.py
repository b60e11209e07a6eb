"""Celery tasks of the spaces app. Thin: call one service. Routed to the default queue."""

from __future__ import annotations

from celery import shared_task

from spaces.services import apply_all_due_changes


@shared_task(name="spaces.apply_economics_changes", acks_late=True, reject_on_worker_lost=True)
def apply_economics_changes() -> int:
    """Every minute (beat): apply the announced economics changes whose time has come. Safe to
    run twice or at once with the matchmaker: each space's changes apply under its row lock,
    once. Returns how many spaces had due changes."""
    return apply_all_due_changes()
