"""Periodic work of the preferences app (registered in ``PreferencesConfig.ready``)."""

from __future__ import annotations

import logging

from celery import shared_task

from preferences.selectors import spaces_with_measurable_judges
from preferences.services import gate_follow_judge_report

logger = logging.getLogger(__name__)


@shared_task(name="preferences.follow_judge_reports", acks_late=True, reject_on_worker_lost=True)
def follow_judge_reports() -> list[str]:
    """Every 10 minutes (beat): bring each measurable space's gate in line with its judge
    report. Idempotent: an unchanged report changes nothing."""
    followed = []
    for space in spaces_with_measurable_judges():
        gate_follow_judge_report(space=space)
        followed.append(space.slug)
    return followed
