"""Scripted and OpenAI-compatible backends (no model needed)."""

from __future__ import annotations

import pytest

from agents.inference import (
    AdapterRef,
    GenerationRequest,
    GenerationSettings,
    InferenceError,
    InferenceUnavailable,
    get_backend,
)
from agents.inference.openai import OpenAIBackend
from agents.inference.scripted import ScriptedBackend, use_script
from tests.agents.fake_vllm import FakeVLLM

ADAPTER = AdapterRef(path="/srv/adapters/a", sha256="ab" * 32)
USER = [{"role": "user", "content": "Say hi"}]


def test_it_refuses_out_of_range_generation_settings():
    for bad in [
        {"temperature": 3},
        {"top_p": 0},
        {"top_k": -1},
        {"max_new_tokens": 0},
        {"repetition_penalty": 0.5},
    ]:
        with pytest.raises(InferenceError):
            GenerationSettings(**bad)


def test_it_refuses_malformed_messages():
    with pytest.raises(InferenceError):
        GenerationRequest(messages=[])
    with pytest.raises(InferenceError):
        GenerationRequest(messages=[{"role": "wizard", "content": "x"}])


def test_it_picks_the_backend_from_settings(settings):
    settings.ARENA_INFERENCE_BACKEND = "scripted"
    assert isinstance(get_backend(), ScriptedBackend)
    with pytest.raises(InferenceError, match="unknown inference backend"):
        get_backend("nope")


def test_it_answers_from_the_script_and_truncates_to_max_new_tokens():
    backend = get_backend("scripted")
    requests = [
        GenerationRequest(messages=USER, settings=GenerationSettings(max_new_tokens=3)),
        GenerationRequest(messages=USER, adapter=ADAPTER),
    ]
    with use_script(["one two three four five", "42"]):
        results = backend.generate(requests)
    assert [r.text for r in results] == ["one two three", "42"]
    assert [r.finish_reason for r in results] == ["length", "stop"]
    assert [r.completion_tokens for r in results] == [3, 1]


def test_it_gives_deterministic_default_answers_per_seed_and_adapter():
    backend = ScriptedBackend()
    a = backend.generate([GenerationRequest(messages=USER, seed=1)])[0].text
    b = backend.generate([GenerationRequest(messages=USER, seed=1)])[0].text
    c = backend.generate([GenerationRequest(messages=USER, seed=1, adapter=ADAPTER)])[0].text
    assert a == b != c


def test_it_sends_one_request_per_row_with_the_adapter_as_model():
    with FakeVLLM() as server:
        backend = OpenAIBackend(base_url=server.url, api_key="sekret")
        results = backend.generate(
            [
                GenerationRequest(
                    messages=USER,
                    adapter=ADAPTER,
                    seed=5,
                    settings=GenerationSettings(temperature=0.2, top_k=20),
                ),
                GenerationRequest(messages=USER, settings=GenerationSettings(max_new_tokens=2)),
            ]
        )
    assert results[0].text == f"answer from {ADAPTER.name} with t=0.2"
    assert (results[0].finish_reason, results[0].prompt_tokens) == ("stop", 11)
    assert (results[1].text, results[1].finish_reason, results[1].completion_tokens) == (
        "answer from",
        "length",
        2,
    )
    # The unknown adapter was loaded by name from its path, then the row retried.
    assert server.loads == [{"lora_name": ADAPTER.name, "lora_path": ADAPTER.path}]
    adapter_bodies = [b for b in server.bodies if b["model"] == ADAPTER.name]
    assert adapter_bodies[-1]["top_k"] == 20 and adapter_bodies[-1]["seed"] == 5
    assert adapter_bodies[-1]["messages"] == USER


def test_it_sends_every_row_at_once_each_with_its_own_seed_and_settings():
    def row(seed, temperature):
        settings = GenerationSettings(
            temperature=temperature, top_p=0.9, top_k=0, repetition_penalty=1.1, max_new_tokens=20
        )
        return GenerationRequest(messages=USER, seed=seed, settings=settings)

    requests = [row(7, 0.5), row(8, 0.5), row(7, 0.5), row(9, 1.2)]
    with FakeVLLM(delay_s=0.3, seeded=True) as server:
        results = OpenAIBackend(base_url=server.url, api_key="sekret").generate(requests)

    # Concurrent, not one after the other: the server batches them itself.
    assert server.max_in_flight == 4
    sent = sorted((b["seed"], b["temperature"]) for b in server.bodies)
    assert sent == [(7, 0.5), (7, 0.5), (8, 0.5), (9, 1.2)]
    assert all(
        (b["top_p"], b["repetition_penalty"], b["max_tokens"]) == (0.9, 1.1, 20)
        and "top_k" not in b  # 0 = off: not sent, the server's default is off too
        for b in server.bodies
    )
    texts = [r.text for r in results]
    # Each answer is its own row's: same seed and settings, same draw; another seed, another.
    assert texts[0] == texts[2] != texts[1]
    assert texts[3].startswith("answer from") and "t=1.2" in texts[3]


def test_it_reports_server_errors_clearly():
    with FakeVLLM() as server:
        backend = OpenAIBackend(base_url=server.url, api_key="wrong")
        with pytest.raises(InferenceError, match="401"):
            backend.generate([GenerationRequest(messages=USER)])
        # A refusal is final: the SDK does not retry a 401.
        assert len(server.keys) == 1
    backend = OpenAIBackend(base_url=server.url, api_key="sekret", max_retries=0)
    with pytest.raises(InferenceUnavailable, match="unreachable"):
        backend.generate([GenerationRequest(messages=USER)])


def test_it_retries_an_overloaded_server_then_gives_up_as_unavailable():
    with FakeVLLM(failures=1) as server:
        backend = OpenAIBackend(base_url=server.url, api_key="sekret", max_retries=1)
        result = backend.generate([GenerationRequest(messages=USER)])[0]
        assert result.text.startswith("answer from")
        assert len(server.bodies) == 2  # one 503, one retry
    with FakeVLLM(failures=5) as server:
        backend = OpenAIBackend(base_url=server.url, api_key="sekret", max_retries=1)
        with pytest.raises(InferenceUnavailable, match="503"):
            backend.generate([GenerationRequest(messages=USER)])
        assert len(server.bodies) == 2


def test_it_gives_up_on_a_slow_server_as_unavailable():
    with FakeVLLM(delay_s=1.0) as server:
        backend = OpenAIBackend(base_url=server.url, api_key="sekret", timeout_s=0.2, max_retries=0)
        with pytest.raises(InferenceUnavailable, match="timed out"):
            backend.generate([GenerationRequest(messages=USER)])


def test_it_sends_no_real_key_when_none_is_configured(settings):
    settings.ARENA_OPENAI_API_KEY = ""
    with FakeVLLM() as server:
        with pytest.raises(InferenceError, match="401"):
            OpenAIBackend(base_url=server.url).generate([GenerationRequest(messages=USER)])
    assert server.keys == ["Bearer EMPTY"]


def test_it_needs_a_base_url(settings):
    settings.ARENA_OPENAI_BASE_URL = ""
    with pytest.raises(InferenceError, match="ARENA_OPENAI_BASE_URL"):
        OpenAIBackend()
