"""An OpenAI-compatible server (vLLM with ``--enable-lora``) does the inference, through the
official ``openai`` SDK.

Each row is one chat completion (sent concurrently: the server batches them itself, vLLM mixes
LoRA adapters in one batch). A row's ``model`` is its adapter's served name
(``lora-<sha256 prefix>``) or, without adapter, the base model's name. When the server does not
know an adapter yet (404), we ask it to load it from the adapter's path (vLLM's
``/v1/load_lora_adapter``, enabled with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``; the path must
be readable by the server, e.g. shared storage) and retry once.

Sampling settings go per request: temperature, top_p, max_tokens and seed are standard;
top_k and repetition_penalty are vLLM's extra parameters (``extra_body``).

Streaming (``on_progress``): each row asks for a streamed completion (server-sent events, with
the usage in the last chunk); a row's text so far is reported every ``stream_every()`` chunks
(vLLM sends about one token per chunk), every row's latest text in each call.

Failures: the SDK retries timeouts, connection errors, 408/409/429 and 5xx (``MAX_RETRIES``, with
backoff); what still fails after that raises ``InferenceUnavailable`` (transient: try later). Any
other refusal (401, 400, an adapter the server cannot load...) raises ``InferenceError``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
from django.conf import settings

from agents.inference.base import (
    GenerationRequest,
    GenerationResult,
    InferenceBackend,
    InferenceError,
    InferenceUnavailable,
    ProgressCallback,
    RowProgress,
    stream_every,
)
from agents.model_store import DEFAULT_MODEL_NAME

TIMEOUT_S = 120.0  # a whole completion of up to max_new_tokens on a busy server
CONNECT_TIMEOUT_S = 5.0
MAX_RETRIES = 2
# The SDK insists on a key; a server started without ``--api-key`` ignores it (vLLM's own docs
# use this placeholder).
NO_API_KEY = "EMPTY"


class OpenAIBackend(InferenceBackend):
    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
    ):
        base_url = (base_url or settings.ARENA_OPENAI_BASE_URL or "").rstrip("/")
        if not base_url:
            raise InferenceError("the openai backend needs ARENA_OPENAI_BASE_URL")
        if not base_url.endswith("/v1"):
            base_url += "/v1"
        api_key = api_key if api_key is not None else settings.ARENA_OPENAI_API_KEY
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or NO_API_KEY,
            timeout=openai.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            max_retries=max_retries,
        )

    def generate(
        self, requests: list[GenerationRequest], *, on_progress: ProgressCallback | None = None
    ) -> list[GenerationResult]:
        if not requests:
            return []
        progress = _Progress(len(requests), on_progress) if on_progress is not None else None
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(
                pool.map(lambda row: self._one(row[1], row[0], progress), enumerate(requests))
            )

    def _one(
        self, request: GenerationRequest, row: int = 0, progress: _Progress | None = None
    ) -> GenerationResult:
        started = time.perf_counter()
        try:
            try:
                completion = self._complete(request, row, progress)
            except openai.NotFoundError:
                if request.adapter is None:
                    raise
                self._load_adapter(request)
                completion = self._complete(request, row, progress)
        except openai.APIError as exc:
            raise _translate(exc) from exc
        return _parse(completion, started)

    def _complete(self, request: GenerationRequest, row: int, progress: _Progress | None):
        s = request.settings
        extra = {"repetition_penalty": s.repetition_penalty}
        if s.top_k:
            extra["top_k"] = s.top_k
        options = {
            "model": _model_name(request),
            "messages": request.messages,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": request.seed & ((1 << 63) - 1),
            "extra_body": extra,
        }
        if progress is None:
            return self.client.chat.completions.create(**options)
        chunks = self.client.chat.completions.create(
            **options, stream=True, stream_options={"include_usage": True}
        )
        return _collect(chunks, row, progress)

    def _load_adapter(self, request: GenerationRequest) -> None:
        body = {"lora_name": request.adapter.name, "lora_path": request.adapter.path}
        try:
            # vLLM answers in plain text, hence ``str``.
            self.client.post("/load_lora_adapter", body=body, cast_to=str)
        except openai.APIStatusError as exc:
            if _is_transient(exc):
                raise
            raise InferenceError(
                f"server could not load adapter {request.adapter.name}: {_body_text(exc)}"
            ) from exc


class _Progress:
    """Every row's latest text, reported together; rows stream on their own threads."""

    def __init__(self, rows: int, on_progress: ProgressCallback):
        self.rows = [RowProgress(text="", tokens=0) for _ in range(rows)]
        self.on_progress = on_progress
        self.every = stream_every()
        self.lock = threading.Lock()

    def update(self, row: int, text: str, tokens: int, *, done: bool = False) -> None:
        if not done and tokens % self.every:
            return
        with self.lock:
            self.rows[row] = RowProgress(text=text.strip(), tokens=tokens, done=done)
            self.on_progress(list(self.rows))


class _Streamed:
    """A streamed completion put back together in the shape ``_parse`` reads."""

    class _Message:
        def __init__(self, content: str):
            self.content = content

    class _Choice:
        def __init__(self, content: str, finish_reason: str | None):
            self.message = _Streamed._Message(content)
            self.finish_reason = finish_reason

    def __init__(self, content: str, finish_reason: str | None, usage):
        self.choices = [self._Choice(content, finish_reason)]
        self.usage = usage


def _collect(chunks, row: int, progress: _Progress) -> _Streamed:
    parts: list[str] = []
    finish, usage, pieces = None, None, 0
    for chunk in chunks:
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage
        for choice in chunk.choices or ():
            delta = getattr(choice.delta, "content", None)
            if delta:
                parts.append(delta)
                pieces += 1
                progress.update(row, "".join(parts), pieces)
            if choice.finish_reason:
                finish = choice.finish_reason
    text = "".join(parts)
    tokens = int(usage.completion_tokens) if usage is not None else pieces
    progress.update(row, text, tokens, done=True)
    return _Streamed(text, finish, usage)


def _model_name(request: GenerationRequest) -> str:
    if request.adapter is not None:
        return request.adapter.name
    return Path(request.base_model).name if request.base_model else DEFAULT_MODEL_NAME


def _is_transient(exc: openai.APIError) -> bool:
    # What the SDK itself retries, once its retries are spent: the server is down or overloaded.
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (
        exc.status_code in (408, 409, 429) or exc.status_code >= 500
    )


def _translate(exc: openai.APIError) -> Exception:
    if isinstance(exc, openai.APITimeoutError):
        return InferenceUnavailable(f"inference server timed out: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return InferenceUnavailable(f"inference server unreachable: {exc}")
    if isinstance(exc, openai.APIStatusError):
        message = f"inference server answered {exc.status_code}: {_body_text(exc)}"
        return InferenceUnavailable(message) if _is_transient(exc) else InferenceError(message)
    return InferenceError(f"malformed answer from inference server: {exc}")


def _body_text(exc: openai.APIStatusError) -> str:
    return exc.response.text[:200]


def _parse(completion, started: float) -> GenerationResult:
    # Model server output is outside input too (the SDK does not validate it): check its shape.
    try:
        choice = completion.choices[0]
        text = choice.message.content
        finish = choice.finish_reason or "stop"
        usage = completion.usage
        prompt_tokens = int(usage.prompt_tokens) if usage else 0
        completion_tokens = int(usage.completion_tokens) if usage else 0
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise InferenceError(f"malformed answer from inference server: {exc!r}") from exc
    if not isinstance(text, str):
        raise InferenceError("inference server returned non-text content")
    if finish not in ("stop", "length"):
        raise InferenceError(f"inference server finished with {finish!r}")
    return GenerationResult(
        text=text.strip(),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish,
        latency_ms=int((time.perf_counter() - started) * 1000),
    )
