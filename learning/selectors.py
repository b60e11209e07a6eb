"""Reads of the learning app: which pairs an agent has not trained on yet."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agents.models import Agent, TrainingExample, TrainingJob
from learning.models import MAX_PAIRS_PER_JOB
from preferences.models import PreferencePair
from spaces.models import Prompt, Space

# A pair used by one of these jobs is spent; a failed or cancelled job's pairs may train again.
SPENDING = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING, TrainingJob.Status.SUCCEEDED)


def new_pairs(*, agent: Agent, space: Space | None = None) -> QuerySet[PreferencePair]:
    """The kept pairs the agent answered in (chosen or rejected) and has not trained on, oldest
    first, never a pair of a held-out prompt."""
    spent = TrainingExample.objects.filter(job__agent=agent, job__status__in=SPENDING).values(
        "pair_id"
    )
    pairs = (
        PreferencePair.objects.filter(status=PreferencePair.Status.KEPT)
        .filter(Q(chosen_agent=agent) | Q(rejected_agent=agent))
        .exclude(prompt__split=Prompt.Split.HELDOUT)
        .exclude(pk__in=spent)
    )
    if space is not None:
        pairs = pairs.filter(space=space)
    return pairs.order_by("pk")


def pairs_for_job(*, agent: Agent, space: Space | None = None) -> list[PreferencePair]:
    return list(new_pairs(agent=agent, space=space)[:MAX_PAIRS_PER_JOB])
