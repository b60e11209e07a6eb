"""Fixed answers, no model: for tests, demos without a model, and benchmarks of everything else.

Answers come from, in order: the ``answers`` given to the constructor, the process-wide script set
with ``use_script()`` (a context manager, for tests), or a default deterministic answer built from
the request's seed and adapter. A "token" here is a whitespace-separated word, so
``max_new_tokens`` truncates like a real backend and sets ``finish_reason="length"``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from agents.inference.base import GenerationRequest, GenerationResult, InferenceBackend

Script = Sequence[str] | Callable[[GenerationRequest, int], str]

_script: Script | None = None


@contextmanager
def use_script(answers: Script) -> Iterator[None]:
    """Every ScriptedBackend made inside the block answers from ``answers`` (a list, cycled by
    row index, or a function of (request, row index))."""
    global _script
    previous, _script = _script, answers
    try:
        yield
    finally:
        _script = previous


def default_answer(request: GenerationRequest, index: int) -> str:
    identity = request.adapter.sha256 if request.adapter else "base"
    digest = hashlib.sha256(f"{identity}:{request.seed}:{index}".encode()).hexdigest()
    return f"Scripted answer {int(digest[:6], 16) % 1000} from {identity[:8]}."


class ScriptedBackend(InferenceBackend):
    name = "scripted"

    def __init__(self, answers: Script | None = None):
        self.answers = answers

    def _answer(self, request: GenerationRequest, index: int) -> str:
        script = self.answers if self.answers is not None else _script
        if script is None:
            return default_answer(request, index)
        if callable(script):
            return script(request, index)
        return script[index % len(script)]

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        results = []
        for index, request in enumerate(requests):
            started = time.perf_counter()
            words = self._answer(request, index).split(" ")
            limit = request.settings.max_new_tokens
            finish = "length" if len(words) > limit else "stop"
            prompt_tokens = sum(len(m["content"].split()) for m in request.messages)
            results.append(
                GenerationResult(
                    text=" ".join(words[:limit]),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=min(len(words), limit),
                    finish_reason=finish,
                    latency_ms=int((time.perf_counter() - started) * 1000),
                )
            )
        return results
