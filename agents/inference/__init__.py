"""Inference backends behind one interface; pick one with ``get_backend()``."""

from agents.inference.base import (
    GENERATION_RANGES,
    AdapterRef,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    InferenceBackend,
    InferenceError,
    InferenceUnavailable,
    ProgressCallback,
    RowProgress,
    get_backend,
    stream_every,
)

__all__ = [
    "GENERATION_RANGES",
    "AdapterRef",
    "GenerationRequest",
    "GenerationResult",
    "GenerationSettings",
    "InferenceBackend",
    "InferenceError",
    "InferenceUnavailable",
    "ProgressCallback",
    "RowProgress",
    "get_backend",
    "stream_every",
]
