"""The inference interface every backend implements.

A match asks for all its answers at once (``generate(requests)``), so a backend that can batch
(``local``: one mixed-adapter generate) gets the whole match in one call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


class InferenceError(ValueError):
    """Bad request or a backend failure, with a message fit to show a user or store on a job."""


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float = 0.7  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 128
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        # The same ranges the Agent model enforces; checked again here because requests also
        # come from judges and benchmarks, not only from stored agents.
        checks = [
            (0.0 <= self.temperature <= 2.0, "temperature must be in [0, 2]"),
            (0.0 < self.top_p <= 1.0, "top_p must be in (0, 1]"),
            (0 <= self.top_k <= 1000, "top_k must be in [0, 1000]"),
            (1 <= self.max_new_tokens <= 1024, "max_new_tokens must be in [1, 1024]"),
            (1.0 <= self.repetition_penalty <= 2.0, "repetition_penalty must be in [1, 2]"),
        ]
        for ok, message in checks:
            if not ok:
                raise InferenceError(message)

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


class InferenceBackend(ABC):
    name: str = ""

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, in order."""


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
