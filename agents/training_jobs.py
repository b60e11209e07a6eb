"""Training jobs: queue a DPO run of an agent's adapter on preference pairs, pay for it, run it,
and keep what it made.

- ``job_create`` copies the examples into the job, holds the operator's price
  (``ARENA_TRAINING_PRICE``) from the owner's balance in the job's escrow, all in one
  transaction: a refused job leaves no row and moves no credit. One job at a time per agent.
- ``job_run`` runs a queued job as the ``train`` worker does: ``agents.training.train_dpo`` from
  the agent's current adapter (the parent), progress saved and announced every step, the new
  adapter stored as a version that is *not* live (a promotion gate decides that), the escrow paid
  to the platform. A run that fails refunds the owner and says why.
- ``job_cancel`` stops a queued job and refunds it.

Which pairs, and when, is decided above this app (agents may not read preference pairs); what a
job made is announced through ``agents.hooks`` (the proof-of-learning record, the gate).
"""

from __future__ import annotations

import logging
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from agents import adapters, hooks
from agents.errors import AgentError
from agents.models import Agent, TrainingExample, TrainingJob
from agents.services import adapter_version_insert, files_kept_on_commit
from agents.training import TrainingError, TrainResult, TrainSettings, planned_order, train_dpo
from agents.training.data import total_steps
from ledger import services as ledger
from ledger.errors import LedgerError
from ledger.models import AccountKind

logger = logging.getLogger(__name__)

SEED_BITS = 62
ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class Example:
    """One preference pair as a job trains on it."""

    pair_id: int
    content_sha256: str
    prompt: str
    chosen: str
    rejected: str


def escrow_ref(job: TrainingJob) -> str:
    return f"train:{job.pk}"


def job_directory(job: TrainingJob) -> Path:
    """Where a job's run writes (checkpoints kept for replay; the adapter is copied out)."""
    return Path(default_storage.path(f"training/job-{job.pk}"))


def _settings_for(agent: Agent, *, seed: int, overrides: dict[str, Any]) -> TrainSettings:
    caps = {
        "max_steps": django_settings.ARENA_TRAINING_MAX_STEPS,
        "max_length": django_settings.ARENA_TRAINING_MAX_LENGTH,
        "checkpoint_every": django_settings.ARENA_TRAINING_CHECKPOINT_EVERY,
    }
    try:
        return TrainSettings.from_agent(agent, seed=seed, **{**caps, **overrides})
    except TrainingError as exc:
        raise AgentError(str(exc)) from None


def _check_examples(examples: list[Example]) -> None:
    if not examples:
        raise AgentError("a training job needs at least one preference pair")
    seen = set()
    for example in examples:
        if example.pair_id in seen:
            raise AgentError(f"pair #{example.pair_id} is listed twice")
        seen.add(example.pair_id)
        if not (example.prompt.strip() and example.chosen.strip() and example.rejected.strip()):
            raise AgentError(f"pair #{example.pair_id} has an empty prompt or answer")
        if example.chosen.strip() == example.rejected.strip():
            raise AgentError(f"pair #{example.pair_id}: chosen and rejected are the same answer")


@transaction.atomic
def job_create(
    *,
    agent: Agent,
    examples: list[Example],
    requested_by: str,
    space=None,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainingJob:
    """Queue a job (the caller enqueues ``agents.train_job`` on commit). Refused with
    AgentError, nothing written and nothing paid, when the agent already has a job queued or
    running, the examples are unusable, the settings cannot be trained, or the owner cannot pay."""
    agent = Agent.objects.select_for_update().select_related("owner").get(pk=agent.pk)
    if agent.training_jobs.filter(status__in=TrainingJob.ACTIVE).exists():
        raise AgentError(f"{agent.name} already has a training job queued or running")
    _check_examples(examples)
    seed = secrets.randbits(SEED_BITS) if seed is None else seed
    run_settings = _settings_for(agent, seed=seed, overrides=overrides or {})
    price = django_settings.ARENA_TRAINING_PRICE
    job = TrainingJob.objects.create(
        agent=agent,
        space=space,
        parent=agent.current_adapter,
        requested_by=requested_by,
        settings=run_settings.as_dict(),
        system_prompt=agent.system_prompt,
        price=price,
        pair_count=len(examples),
    )
    TrainingExample.objects.bulk_create(
        TrainingExample(
            job=job,
            position=position,
            pair_id=example.pair_id,
            content_sha256=example.content_sha256,
            prompt=example.prompt,
            chosen=example.chosen,
            rejected=example.rejected,
        )
        for position, example in enumerate(examples)
    )
    if price:
        try:
            ledger.hold(
                user=agent.owner,
                escrow_ref=escrow_ref(job),
                amount=price,
                key=f"{escrow_ref(job)}:hold",
            )
        except LedgerError as exc:
            raise AgentError(f"cannot pay {price} credits for training: {exc}") from None
    return job


def job_pairs(job: TrainingJob) -> list[dict[str, str]]:
    """The job's examples as the trainer takes them, in the job's pair order."""
    system = job.system_prompt
    return [
        {"prompt": e.prompt, "chosen": e.chosen, "rejected": e.rejected, "system": system}
        for e in job.examples.order_by("position")
    ]


def _claim(job_id: int) -> TrainingJob | None:
    """Move a queued job to running; None when it is not queued (run, cancelled, or another
    worker has it): a redelivered task does nothing."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != TrainingJob.Status.QUEUED:
            return None
        job.status = TrainingJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
    return job


def _progress(job: TrainingJob, total_steps: int):
    def on_step(step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        job.metrics.append(row)
        job.step, job.total_steps = step, total_steps
        TrainingJob.objects.filter(pk=job.pk).update(
            step=step, total_steps=total_steps, metrics=job.metrics
        )
        hooks.run_on_training_progress(job, row)

    return on_step


def job_run(*, job_id: int) -> TrainingJob | None:
    """Run a queued job to its end (succeeded or failed); None when it was not queued."""
    job = _claim(job_id)
    if job is None:
        return None
    try:
        run_settings = TrainSettings(**job.settings)
        pairs = job_pairs(job)
        total = total_steps(len(planned_order(len(pairs), run_settings)), run_settings.batch_size)
        work = job_directory(job)
        shutil.rmtree(work, ignore_errors=True)  # a run killed half-way left its files
        parent_dir = job.parent.directory if job.parent_id else None
        result = train_dpo(
            base_model_path=job.agent.base_model.path,
            parent_adapter_dir=parent_dir,
            pairs=pairs,
            settings=run_settings,
            out_dir=work,
            on_step=_progress(job, total),
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the run fails the job, refunded
        logger.exception("training job #%s failed", job.pk)
        return _fail(job, f"{type(exc).__name__}: {exc}")
    try:
        return _succeed(job, result)
    except Exception as exc:  # noqa: BLE001
        logger.exception("training job #%s could not store its adapter", job.pk)
        return _fail(job, f"storing the adapter failed: {type(exc).__name__}: {exc}")


def _relative(path: Path) -> str:
    return str(Path(path).relative_to(Path(default_storage.path(""))))


def _succeed(job: TrainingJob, result: TrainResult) -> TrainingJob:
    agent = job.agent
    weights = adapters.store_adapter_dir(
        source=result.adapter_dir, owner_id=agent.owner_id, sha256=result.adapter_sha256
    )
    with files_kept_on_commit(weights):
        job = TrainingJob.objects.select_for_update().get(pk=job.pk)
        version = adapter_version_insert(
            agent=agent,
            weights=weights,
            sha256=result.adapter_sha256,
            parent=job.parent,
            created_by=f"dpo:{job.pk}",
        )
        job.result = version
        job.status = TrainingJob.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.step = job.total_steps = result.steps
        job.metrics = result.metrics
        job.final_metrics = result.final_metrics
        job.data_order = result.data_order
        job.checkpoints = [
            {"step": c["step"], "sha256": c["sha256"], "path": _relative(c["path"])}
            for c in result.checkpoints
        ]
        job.hyperparameters = result.hyperparameters
        job.library_versions = result.library_versions
        job.quantization = result.quantization
        job.save()
        if job.price:
            platform = ledger.system_account(AccountKind.PLATFORM_REVENUE)
            ledger.settle(
                escrow_ref=escrow_ref(job),
                payouts=[(platform, job.price)],
                key=f"{escrow_ref(job)}:paid",
            )
        hooks.run_on_training_succeeded(job)
    shutil.rmtree(result.adapter_dir, ignore_errors=True)  # stored; the checkpoints stay
    return job


def _refund(job: TrainingJob) -> None:
    if job.price:
        ledger.release(
            user=job.agent.owner,
            escrow_ref=escrow_ref(job),
            amount=job.price,
            key=f"{escrow_ref(job)}:refund",
        )


def _fail(job: TrainingJob, error: str) -> TrainingJob:
    shutil.rmtree(job_directory(job), ignore_errors=True)
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if job.status != TrainingJob.Status.RUNNING:
            return job
        job.status = TrainingJob.Status.FAILED
        job.error = error[:ERROR_MAX_CHARS]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        _refund(job)
        hooks.run_on_training_ended(job)
    return job


def job_cancel(*, job: TrainingJob) -> TrainingJob:
    """Cancel a queued job and refund it; a running or finished job cannot be cancelled."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if job.status != TrainingJob.Status.QUEUED:
            raise AgentError(f"job #{job.pk} is {job.status}; only a queued job can be cancelled")
        job.status = TrainingJob.Status.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        _refund(job)
        hooks.run_on_training_ended(job)
    return job


def jobs_reap() -> list[int]:
    """Fail (and refund) every job still "running" past its time limit and a minute more: its
    worker died (a killed process never reaches the soft limit). The task runs every 5 minutes;
    the ids of the jobs failed."""
    limit = django_settings.ARENA_TRAINING_TIME_LIMIT_S + 120
    stale = TrainingJob.objects.filter(
        status=TrainingJob.Status.RUNNING,
        started_at__lt=timezone.now() - timedelta(seconds=limit),
    )
    reaped = []
    for job in stale.order_by("pk"):
        job = _fail(job, f"the worker running it stopped answering for over {limit} s")
        if job.status == TrainingJob.Status.FAILED:
            reaped.append(job.pk)
    return reaped
