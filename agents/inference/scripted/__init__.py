"""Fixed answers, no model: for tests, demos without a model, and benchmarks of everything else.

Answers come from, in order: the ``answers`` given to the constructor, the process-wide script set
with ``use_script()`` (a context manager, for tests), or a default deterministic answer built from
the request's seed and adapter. A script's row index is the row's place in the ``generate`` call:
a match's seat index when the match is rolled out alone (``match_rollout``, inline steps), not in
a cross-match batch. A "token" here is a whitespace-separated word, so
``max_new_tokens`` truncates like a real backend and sets ``finish_reason="length"``.

Streaming: with ``on_progress``, every row's words come out ``stream_every()`` at a time, all
rows in step (as one batched generate fills them), with ``ARENA_SCRIPTED_STREAM_DELAY_S`` seconds
between two chunks, so tests and demos can watch answers fill in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings

from agents.inference.base import (
    GenerationRequest,
    GenerationResult,
    InferenceBackend,
    ProgressCallback,
    RowProgress,
    stream_every,
)

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


def default_answer(request: GenerationRequest) -> str:
    """A function of the row's adapter and seed only, like a real model's answer: never of the
    row's place in the batch (cross-match batches put a seat at any place)."""
    identity = request.adapter.sha256 if request.adapter else "base"
    digest = hashlib.sha256(f"{identity}:{request.seed}".encode()).hexdigest()
    return f"Scripted answer {int(digest[:6], 16) % 1000} from {identity[:8]}."


class ScriptedBackend(InferenceBackend):
    name = "scripted"

    def __init__(self, answers: Script | None = None):
        self.answers = answers

    def _answer(self, request: GenerationRequest, index: int) -> str:
        script = self.answers if self.answers is not None else _script
        if script is None:
            return default_answer(request)
        if callable(script):
            return script(request, index)
        return script[index % len(script)]

    def generate(
        self, requests: list[GenerationRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[GenerationResult]:
        started = time.perf_counter()
        rows = []
        for index, request in enumerate(requests):
            words = self._answer(request, index).split(" ")
            rows.append((words, request.settings.max_new_tokens))
        if on_progress is not None:
            _stream([words[:limit] for words, limit in rows], on_progress)
        latency_ms = int((time.perf_counter() - started) * 1000)
        results = []
        for request, (words, limit) in zip(requests, rows, strict=True):
            finish = "length" if len(words) > limit else "stop"
            prompt_tokens = sum(len(m["content"].split()) for m in request.messages)
            results.append(
                GenerationResult(
                    text=" ".join(words[:limit]),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=min(len(words), limit),
                    finish_reason=finish,
                    latency_ms=latency_ms,
                )
            )
        return results


def stream_delay_s() -> float:
    """Seconds between two chunks (``ARENA_SCRIPTED_STREAM_DELAY_S``)."""
    return max(float(settings.ARENA_SCRIPTED_STREAM_DELAY_S), 0.0)


def _stream(rows: list[list[str]], on_progress: ProgressCallback) -> None:
    """Every row's words, ``stream_every()`` at a time, all rows in step; the last call has
    every row done."""
    every, delay = stream_every(), stream_delay_s()
    longest = max((len(words) for words in rows), default=0)
    sent = 0
    while sent < longest:
        if sent and delay:
            time.sleep(delay)
        sent = min(sent + every, longest)
        on_progress(
            [
                RowProgress(
                    text=" ".join(words[:sent]),
                    tokens=min(sent, len(words)),
                    done=sent >= len(words),
                )
                for words in rows
            ]
        )
