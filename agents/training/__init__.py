"""DPO training of LoRA adapters (a library: jobs, rows and tasks live elsewhere).

- ``TrainSettings``: what a run is told (the agent's QLoRA settings + seed, caps, checkpoints).
- ``train_dpo``: pairs in, a new adapter out, with a ``TrainResult`` holding what a
  proof-of-learning record commits to (data order, per-step metrics, checkpoint hashes...).
- ``replay_segment`` / ``adapter_distance`` / ``checkpoint_sha256``: what a verifier needs to
  re-execute part of a run and check it against the recorded checkpoints.

Importing this package loads no torch; the functions load it when called.
"""

from agents.training.checkpoints import checkpoint_sha256
from agents.training.data import epoch_order, planned_order
from agents.training.dpo import TrainResult, train_dpo
from agents.training.engine import Precision, choose_precision, library_versions
from agents.training.errors import TrainingError
from agents.training.replay import DISTANCE_EPS, adapter_distance, replay_segment
from agents.training.settings import FIXED, TrainSettings

__all__ = [
    "DISTANCE_EPS",
    "FIXED",
    "Precision",
    "TrainResult",
    "TrainSettings",
    "TrainingError",
    "adapter_distance",
    "checkpoint_sha256",
    "choose_precision",
    "epoch_order",
    "library_versions",
    "planned_order",
    "replay_segment",
    "train_dpo",
]
