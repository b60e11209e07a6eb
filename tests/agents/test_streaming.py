"""Answers stream out of a generate while it runs (``generate(..., on_progress=...)``): the local
backend on a tiny random llama (a batch of rows with different settings and limits, one
generate), the scripted backend in chunks, and the openai backend from a streamed completion."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.inference import GenerationRequest, GenerationSettings, RowProgress
from agents.inference.local import cache
from agents.inference.local.backend import LocalBackend, generate_batch
from agents.inference.openai import OpenAIBackend
from agents.inference.scripted import ScriptedBackend
from tests.preferences.training import tiny_model_dir


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 2-layer llama with random weights and a one-character-per-token tokenizer: it
    writes noise, but real tokens through the real generate, in milliseconds."""
    from transformers import LlamaConfig

    config_dir = tmp_path_factory.mktemp("tiny-config")
    LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    ).save_pretrained(config_dir)
    path = tiny_model_dir(str(config_dir), tmp_path_factory.mktemp("tiny") / "model")
    yield path
    cache.clear()


def rows_for(model: str) -> list[GenerationRequest]:
    question = [{"role": "user", "content": "Say something."}]
    return [
        GenerationRequest(
            messages=question,
            settings=GenerationSettings(temperature=0.9, max_new_tokens=40),
            seed=11,
            base_model=model,
        ),
        GenerationRequest(
            messages=[{"role": "user", "content": "Another, longer question?"}],
            settings=GenerationSettings(temperature=0.0, max_new_tokens=17),
            seed=5,
            base_model=model,
        ),
        GenerationRequest(
            messages=question,
            settings=GenerationSettings(temperature=1.3, top_k=20, max_new_tokens=29),
            seed=99,
            base_model=model,
        ),
    ]


def test_the_local_backend_streams_a_batch_and_ends_on_the_same_answers(tiny_model, settings):
    settings.ARENA_STREAM_EVERY_TOKENS = 4
    backend = LocalBackend()
    plain = backend.generate(rows_for(tiny_model))
    calls: list[list[RowProgress]] = []
    streamed = backend.generate(rows_for(tiny_model), on_progress=calls.append)

    # Same seeds, same tokens: the streamer only watches.
    assert [r.text for r in streamed] == [r.text for r in plain]
    assert [r.token_ids for r in streamed] == [r.token_ids for r in plain]
    # Every 4 steps while generating, and once at the end.
    steps = max(r.completion_tokens + (r.finish_reason == "stop") for r in plain)
    assert len(calls) >= steps // 4 >= 2
    assert all(len(call) == 3 for call in calls)
    for row, result in enumerate(plain):
        counts = [call[row].tokens for call in calls]
        assert counts == sorted(counts), "a row's token count never goes back"
        assert counts[-1] == result.completion_tokens
        assert calls[-1][row].text == result.text and calls[-1][row].done
        assert all(
            c[row].tokens <= rows_for(tiny_model)[row].settings.max_new_tokens for c in calls
        )
        # The text grows while the model writes (one character per token here): every
        # partial text is the start of the final one.
        assert all(result.text.startswith(call[row].text) for call in calls)
    longest = max(range(3), key=lambda row: plain[row].completion_tokens)
    assert plain[longest].completion_tokens > 8
    assert any(
        0 < len(call[longest].text) < len(plain[longest].text) and not call[longest].done
        for call in calls
    )


def test_the_local_streamer_reports_every_n_steps(tiny_model):
    loaded = cache.get_model(tiny_model)
    calls = []
    rows = rows_for(tiny_model)
    with cache.model_lock:
        results = generate_batch(loaded, rows, ignore_eos=True, on_progress=calls.append, every=10)
    # ignore_eos: the batch runs to its longest limit (40 steps): calls after 10, 20, 30, 40 steps
    # and the end.
    assert [r.completion_tokens for r in results] == [40, 17, 29]
    assert [call[0].tokens for call in calls] == [10, 20, 30, 40, 40]
    assert [call[1].tokens for call in calls] == [10, 17, 17, 17, 17]
    assert calls[1][1].done and not calls[0][1].done


def test_the_scripted_backend_streams_in_chunks_of_n_words(settings):
    settings.ARENA_STREAM_EVERY_TOKENS = 2
    backend = ScriptedBackend(["one two three four five", "six seven"])
    rows = [
        GenerationRequest(messages=[{"role": "user", "content": "go"}], seed=1),
        GenerationRequest(messages=[{"role": "user", "content": "go"}], seed=2),
    ]
    calls = []
    results = backend.generate(rows, on_progress=calls.append)
    assert [[(p.text, p.tokens, p.done) for p in call] for call in calls] == [
        [("one two", 2, False), ("six seven", 2, True)],
        [("one two three four", 4, False), ("six seven", 2, True)],
        [("one two three four five", 5, True), ("six seven", 2, True)],
    ]
    assert [r.text for r in results] == ["one two three four five", "six seven"]


def test_the_scripted_backend_streams_no_further_than_the_token_limit(settings):
    settings.ARENA_STREAM_EVERY_TOKENS = 3
    backend = ScriptedBackend(["a b c d e f g h"])
    row = GenerationRequest(
        messages=[{"role": "user", "content": "go"}],
        settings=GenerationSettings(max_new_tokens=4),
    )
    calls = []
    [result] = backend.generate([row], on_progress=calls.append)
    assert [call[0].text for call in calls] == ["a b c", "a b c d"]
    assert result.text == "a b c d" and result.finish_reason == "length"


class StreamingServer:
    """An OpenAI-compatible server that streams each answer word by word (server-sent events),
    with the usage in the last chunk, as vLLM does with ``stream_options.include_usage``."""

    def __init__(self):
        self.bodies = []

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                words = f"streamed answer for {body['messages'][-1]['content']}".split()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()

                def event(payload):
                    self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())

                base = {"id": "c1", "object": "chat.completion.chunk", "created": 0}
                base["model"] = body["model"]
                for n, word in enumerate(words):
                    piece = word if n == 0 else " " + word
                    finish = "stop" if n == len(words) - 1 else None
                    choice = {"index": 0, "delta": {"content": piece}, "finish_reason": finish}
                    event({**base, "choices": [choice]})
                usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 9}
                event({**base, "choices": [], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_openai_backend_streams_each_row_and_keeps_the_final_answer(settings):
    settings.ARENA_STREAM_EVERY_TOKENS = 2
    server = StreamingServer()
    try:
        backend = OpenAIBackend(base_url=server.url, api_key="k")
        rows = [
            GenerationRequest(messages=[{"role": "user", "content": "left"}]),
            GenerationRequest(messages=[{"role": "user", "content": "right side"}]),
        ]
        calls = []
        results = backend.generate(rows, on_progress=calls.append)
    finally:
        server.close()
    assert all(body["stream"] is True for body in server.bodies)
    assert [r.text for r in results] == [
        "streamed answer for left",
        "streamed answer for right side",
    ]
    assert [r.completion_tokens for r in results] == [4, 5]
    final = {row: None for row in range(2)}
    for call in calls:
        for row, progress in enumerate(call):
            if progress.done:
                final[row] = progress.text
    assert final == {0: results[0].text, 1: results[1].text}
    # Partial texts were reported before the end.
    assert any(0 < call[1].tokens < 5 and not call[1].done for call in calls)
