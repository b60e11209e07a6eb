"""An OpenAI-compatible server (vLLM with ``--enable-lora``) does the inference.

Each row is one ``POST /v1/chat/completions`` (sent concurrently: the server batches them itself,
vLLM mixes LoRA adapters in one batch). A row's ``model`` is its adapter's served name
(``lora-<sha256 prefix>``) or, without adapter, the base model's name. When the server does not
know an adapter yet, we ask it to load it from the adapter's path (vLLM's
``/v1/load_lora_adapter``, enabled with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``; the path must
be readable by the server, e.g. shared storage) and retry once.

Sampling settings go per request: temperature, top_p, max_tokens and seed are standard;
top_k and repetition_penalty are vLLM's extra parameters.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from django.conf import settings

from agents.inference.base import (
    GenerationRequest,
    GenerationResult,
    InferenceBackend,
    InferenceError,
)

DEFAULT_BASE_NAME = "SmolLM2-135M-Instruct"
TIMEOUT_S = 120


class OpenAIBackend(InferenceBackend):
    name = "openai"

    def __init__(self, base_url: str | None = None, api_key: str | None = None):
        self.base_url = (base_url or settings.ARENA_OPENAI_BASE_URL or "").rstrip("/")
        if not self.base_url:
            raise InferenceError("the openai backend needs ARENA_OPENAI_BASE_URL")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.api_key = api_key if api_key is not None else settings.ARENA_OPENAI_API_KEY

    def generate(self, requests_: list[GenerationRequest]) -> list[GenerationResult]:
        if not requests_:
            return []
        with requests.Session() as session, ThreadPoolExecutor(len(requests_)) as pool:
            return list(pool.map(lambda r: self._one(session, r), requests_))

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _model_name(self, request: GenerationRequest) -> str:
        if request.adapter is not None:
            return request.adapter.name
        return Path(request.base_model).name if request.base_model else DEFAULT_BASE_NAME

    def _body(self, request: GenerationRequest) -> dict:
        s = request.settings
        body = {
            "model": self._model_name(request),
            "messages": request.messages,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": request.seed & ((1 << 63) - 1),
            "repetition_penalty": s.repetition_penalty,
        }
        if s.top_k:
            body["top_k"] = s.top_k
        return body

    def _post(self, session: requests.Session, path: str, body: dict) -> requests.Response:
        try:
            return session.post(
                f"{self.base_url}{path}", json=body, headers=self._headers(), timeout=TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise InferenceError(f"inference server unreachable: {exc}") from exc

    def _one(self, session: requests.Session, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        body = self._body(request)
        response = self._post(session, "/chat/completions", body)
        if response.status_code == 404 and request.adapter is not None:
            loaded = self._post(
                session,
                "/load_lora_adapter",
                {"lora_name": request.adapter.name, "lora_path": request.adapter.path},
            )
            if loaded.status_code >= 400:
                raise InferenceError(
                    f"server could not load adapter {request.adapter.name}: {loaded.text[:200]}"
                )
            response = self._post(session, "/chat/completions", body)
        if response.status_code >= 400:
            raise InferenceError(
                f"inference server answered {response.status_code}: {response.text[:200]}"
            )
        return _parse(response, started)


def _parse(response: requests.Response, started: float) -> GenerationResult:
    # Model server output is outside input too: check its shape before trusting it.
    try:
        data = response.json()
        choice = data["choices"][0]
        text = choice["message"]["content"]
        finish = choice.get("finish_reason") or "stop"
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens", 0))
        completion_tokens = int(usage.get("completion_tokens", 0))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
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
