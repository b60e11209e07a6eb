"""The inference interface every backend implements.

A match asks for all its answers at once (``generate(requests)``), so a backend that can batch
(``local``: one mixed-adapter generate) gets the whole match in one call.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

# A peft adapter directory's weights file; its sha256 is the adapter's identity everywhere.
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class InferenceError(ValueError):
    """Bad request or a backend failure, with a message fit to show a user or store on a job."""


class InferenceUnavailable(Exception):
    """The inference server could not be reached or kept failing (timeout, connection error, 5xx
    or overload after the retries): transient, so the caller may try again later."""


# The one home of the generation ranges: field -> (min, max, min_inclusive). GenerationSettings
# checks them here; agents.models turns them into field validators and database constraints.
GENERATION_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, 2.0, True),  # 0 = greedy
    "top_p": (0.0, 1.0, False),  # (0, 1]: 0 would keep no token
    "top_k": (0, 1000, True),  # 0 = off
    "max_new_tokens": (1, 1024, True),
    "repetition_penalty": (1.0, 2.0, True),
}
INTEGER_SETTINGS = ("top_k", "max_new_tokens")


def in_range(field: str, value: float) -> bool:
    low, high, inclusive = GENERATION_RANGES[field]
    return (low <= value if inclusive else low < value) and value <= high


def range_text(field: str) -> str:
    """``"(0, 1]"`` style text of a field's range, for error messages."""
    low, high, inclusive = GENERATION_RANGES[field]
    return f"{'[' if inclusive else '('}{low:g}, {high:g}]"


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float = 0.7  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 128
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        # Checked here as well as on the Agent model because requests also come from judges and
        # benchmarks, not only from stored agents.
        for field_name in GENERATION_RANGES:
            value = getattr(self, field_name)
            kind = int if field_name in INTEGER_SETTINGS else int | float
            if isinstance(value, bool) or not isinstance(value, kind):
                kind_name = "an integer" if field_name in INTEGER_SETTINGS else "a number"
                raise InferenceError(f"{field_name} must be {kind_name}")
            if not in_range(field_name, value):
                raise InferenceError(f"{field_name} must be in {range_text(field_name)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AdapterRef:
    """A LoRA adapter: the peft directory and the sha256 of its weights file (its identity)."""

    path: str
    sha256: str

    @property
    def name(self) -> str:
        # The name the adapter is loaded / served under (peft adapter name, vLLM LoRA name).
        return f"lora-{self.sha256[:16]}"


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict]
    adapter: AdapterRef | None = None
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    seed: int = 0
    # Directory of the base model; None = the default model. Rows on one base share a generate.
    base_model: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise InferenceError("a generation request needs at least one message")
        for message in self.messages:
            if (
                not isinstance(message, dict)
                or message.get("role") not in ("system", "user", "assistant")
                or not isinstance(message.get("content"), str)
            ):
                raise InferenceError(
                    "each message must be {'role': system|user|assistant, 'content': str}"
                )


@dataclass(frozen=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"
    latency_ms: int
    # What a rollout audit recomputes (``agents.rollout_audit``); only the local backend fills
    # them, because only it runs our model in this process. ``token_ids``: the sampled tokens,
    # the completion's ``completion_tokens`` tokens followed, when finish_reason is "stop", by
    # the end-of-sequence token the model chose (so a truncated answer cannot pass as complete).
    # ``token_logprobs``: each one's log-probability under the RAW model distribution with the
    # row's adapter (log_softmax of the logits, before repetition penalty, temperature, top-k and
    # top-p): the quantity one plain forward pass reproduces, whatever the sampling settings.
    # None: the backend cannot say (scripted: no model; openai: a remote server whose token ids
    # and numerics are not ours), and the rollout is not auditable.
    token_ids: list[int] | None = None
    token_logprobs: list[float] | None = None

    @property
    def auditable(self) -> bool:
        return self.token_ids is not None and self.token_logprobs is not None


@dataclass(frozen=True)
class Recomputed:
    """A completion's tokens read again by the model (``InferenceBackend.recompute``)."""

    logprobs: list[float]  # raw log-probability of the token at each asked position
    text: str  # the completion's text, as ``generate`` gives it for these tokens
    dtype: str  # the numeric format the model computed in ("float32", "bfloat16"...)


@dataclass(frozen=True)
class RowProgress:
    """One row's answer while it is being generated: the text so far (decoded and stripped the
    way the final result's text is) and how many tokens that is."""

    text: str
    tokens: int
    done: bool = False  # the row has finished (its stop token, or its token limit)


# Called with one RowProgress per request, in order, every ``stream_every()`` tokens (and once
# more when the generate ends). It runs on the generating thread: it must be quick, and whatever
# it raises is the caller's business (match_rollout's own callback never raises).
ProgressCallback = Callable[[list[RowProgress]], None]


def stream_every() -> int:
    """How many tokens between two progress calls (``ARENA_STREAM_EVERY_TOKENS``)."""
    return max(int(getattr(settings, "ARENA_STREAM_EVERY_TOKENS", 8)), 1)


class InferenceBackend(ABC):
    name: str = ""

    @abstractmethod
    def generate(
        self, requests: list[GenerationRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[GenerationResult]:
        """One result per request, in order. ``on_progress`` (optional) is told every row's
        text so far every ``stream_every()`` generated tokens, and once at the end."""

    def recompute(
        self,
        *,
        messages: list[dict],
        token_ids: list[int],
        positions: list[int],
        adapter: AdapterRef | None = None,
        base_model: str | None = None,
    ) -> Recomputed:
        """For a rollout audit (``agents.rollout_audit``): the raw log-probabilities of
        ``token_ids`` at ``positions`` after the prompt built from ``messages``, teacher-forced,
        in one forward pass. Only a backend that records them at generate can (local)."""
        raise InferenceError(f"the {self.name} backend cannot recompute token log-probabilities")


BACKENDS = {
    "local": "agents.inference.local.LocalBackend",
    "openai": "agents.inference.openai.OpenAIBackend",
    "scripted": "agents.inference.scripted.ScriptedBackend",
}


def get_backend(name: str | None = None) -> InferenceBackend:
    name = name or settings.ARENA_INFERENCE_BACKEND
    if name not in BACKENDS:
        raise InferenceError(f"unknown inference backend {name!r}; known: {', '.join(BACKENDS)}")
    return import_string(BACKENDS[name])()
