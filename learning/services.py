"""When an agent trains: on its owner's request, or by itself once a space has given it K new
kept pairs (``TrainingPolicy.train_after_pairs``). A job copies the pairs in, the owner pays the
operator's price, and the run goes to the ``train`` queue (``agents.train_job``)."""

from __future__ import annotations

import logging

from django.db import transaction

from agents.errors import AgentError
from agents.models import AdapterVersion, Agent, TrainingJob
from agents.services import agent_set_current_adapter
from agents.training_jobs import Example, job_create
from arena.services import dispatch
from learning.models import GateRun, TrainingPolicy
from learning.selectors import new_pairs, pairs_for_job
from preferences.models import PreferencePair
from spaces.models import Space

logger = logging.getLogger(__name__)

TRAIN_TASK = "agents.train_job"


def policy_for(*, space: Space) -> TrainingPolicy:
    policy, _ = TrainingPolicy.objects.get_or_create(space=space)
    return policy


def example_of(pair: PreferencePair) -> Example:
    return Example(
        pair_id=pair.pk,
        content_sha256=pair.content_sha256,
        prompt=pair.prompt_text,
        chosen=pair.chosen_text,
        rejected=pair.rejected_text,
    )


def training_request(
    *,
    agent: Agent,
    space: Space | None = None,
    requested_by: str = "owner",
    seed: int | None = None,
    overrides: dict | None = None,
) -> TrainingJob:
    """Queue a job on the agent's new kept pairs (of ``space``, or of every space) and send it
    to the ``train`` queue once committed. AgentError, nothing written or paid, when there are
    no new pairs, a job is already queued or running, or the owner cannot pay."""
    if agent.training_jobs.filter(status__in=TrainingJob.ACTIVE).exists():
        # said first: the queued job's pairs are spent, "no new pairs" would mislead
        raise AgentError(f"{agent.name} already has a training job queued or running")
    pairs = pairs_for_job(agent=agent, space=space)
    if not pairs:
        where = f" in {space.slug}" if space else ""
        raise AgentError(f"{agent.name} has no new kept preference pairs{where} to train on")
    for pair in pairs:
        if not pair.verify():  # an edited pair must never train anyone
            raise AgentError(f"pair #{pair.pk} does not match its content hash; not training")
    with transaction.atomic():
        job = job_create(
            agent=agent,
            examples=[example_of(p) for p in pairs],
            requested_by=requested_by,
            space=space,
            seed=seed,
            overrides=overrides,
        )
        dispatch.enqueue(TRAIN_TASK, job.pk)
    return job


def agents_due(*, space: Space) -> list[Agent]:
    """Agents with at least K new kept pairs in the space and no job queued or running."""
    policy = policy_for(space=space)
    if not policy.automatic:
        return []
    candidates = Agent.objects.filter(seats__match__space=space).distinct().order_by("pk")
    due = []
    for agent in candidates.exclude(training_jobs__status__in=TrainingJob.ACTIVE):
        if new_pairs(agent=agent, space=space)[: policy.train_after_pairs].count() >= (
            policy.train_after_pairs
        ):
            due.append(agent)
    return due


def schedule_training() -> list[int]:
    """Queue a job for every agent due in any space (beat); the ids of the jobs queued. An
    owner who cannot pay, or an agent whose settings cannot train, is logged and skipped."""
    queued = []
    for space in Space.objects.filter(pair_gate__isnull=False).order_by("pk"):
        for agent in agents_due(space=space):
            try:
                job = training_request(agent=agent, space=space, requested_by="schedule")
            except AgentError as exc:
                logger.info("not training %s in %s: %s", agent, space.slug, exc)
                continue
            queued.append(job.pk)
    return queued


@transaction.atomic
def version_promote(*, agent: Agent, version: AdapterVersion) -> Agent:
    """Make ``version`` the agent's live adapter by hand: a version its gate refused, or any
    earlier one (a roll back). The gate run of the version, if any, records the promotion."""
    agent = agent_set_current_adapter(agent=agent, version=version)
    GateRun.objects.filter(candidate=version).update(promoted=True)
    return agent
