"""transformers + peft in this process; see ``backend.py``."""

from agents.inference.local.backend import (
    LocalBackend,
    generate_batch,
    label_probabilities,
    label_probabilities_batch,
)

__all__ = ["LocalBackend", "generate_batch", "label_probabilities", "label_probabilities_batch"]
