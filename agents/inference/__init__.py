"""Inference backends behind one interface; pick one with ``get_backend()``."""

from agents.inference.base import (
    AdapterRef,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    InferenceBackend,
    InferenceError,
    get_backend,
)

__all__ = [
    "AdapterRef",
    "GenerationRequest",
    "GenerationResult",
    "GenerationSettings",
    "InferenceBackend",
    "InferenceError",
    "get_backend",
]
