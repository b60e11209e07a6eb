"""transformers + peft in this process; see ``backend.py``."""

from agents.inference.local.backend import (
    LocalBackend,
    generate_batch,
    label_probabilities,
    label_probabilities_batch,
    teacher_forced_logprobs,
)

__all__ = [
    "LocalBackend",
    "generate_batch",
    "label_probabilities",
    "label_probabilities_batch",
    "teacher_forced_logprobs",
]
