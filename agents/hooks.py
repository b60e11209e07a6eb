"""Extension points for apps above agents (agents imports none of them).

Training jobs run here, but what a finished job means is decided above: the proof-of-learning
record that commits to it and the promotion gate that decides whether its adapter goes live
(``learning``), and the live progress pushed to the agent's page (``arena``). They register
callbacks in their ``AppConfig.ready()``:

- ``register_on_training_progress(callback(job, row))``: after every optimizer step, outside any
  transaction; best effort (an exception is logged, never raised into the run);
- ``register_on_training_succeeded(callback(job))``: inside the transaction that stores the new
  adapter version, so what it writes exists exactly when the version does (an exception rolls
  the version back and the job fails, refunded);
- ``register_on_training_ended(callback(job))``: a job failed or was cancelled (refunded),
  inside the transaction that records it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.models import TrainingJob

logger = logging.getLogger(__name__)

ProgressCallback = Callable[["TrainingJob", dict[str, Any]], None]
JobCallback = Callable[["TrainingJob"], None]
_on_progress: list[ProgressCallback] = []
_on_succeeded: list[JobCallback] = []
_on_ended: list[JobCallback] = []


def register_on_training_progress(callback: ProgressCallback) -> None:
    if callback not in _on_progress:
        _on_progress.append(callback)


def register_on_training_succeeded(callback: JobCallback) -> None:
    if callback not in _on_succeeded:
        _on_succeeded.append(callback)


def run_on_training_progress(job: TrainingJob, row: dict[str, Any]) -> None:
    for callback in _on_progress:
        try:
            callback(job, row)
        except Exception:  # noqa: BLE001 - progress is best effort, the run goes on
            logger.exception("training progress callback %r failed", callback)


def run_on_training_succeeded(job: TrainingJob) -> None:
    for callback in _on_succeeded:
        callback(job)


def register_on_training_ended(callback: JobCallback) -> None:
    if callback not in _on_ended:
        _on_ended.append(callback)


def run_on_training_ended(job: TrainingJob) -> None:
    for callback in _on_ended:
        callback(job)
