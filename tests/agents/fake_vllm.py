"""A tiny server speaking the OpenAI protocol the way vLLM serves LoRA adapters: chat
completions by model name, dynamic adapter loading, per-request seeds. A test starts it in a
thread (``with FakeVLLM() as server``) and points the openai backend at ``server.url``."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.model_store import DEFAULT_MODEL_NAME


class FakeVLLM:
    """A tiny server speaking the OpenAI chat-completions protocol, serving LoRA adapters by
    name the way vLLM does (unknown model -> 404 until /v1/load_lora_adapter loads it)."""

    def __init__(self, base_name=DEFAULT_MODEL_NAME, *, failures=0, delay_s=0.0, seeded=False):
        self.models = {base_name}
        self.seeded = seeded  # answers end with a draw from the request's seed
        self.bodies: list[dict] = []
        self.loads: list[dict] = []
        self.failures = failures  # answer this many chat completions with a 503 first
        self.delay_s = delay_s  # wait this long before each answer
        self.keys: list[str | None] = []  # the Authorization header of each request
        self.in_flight = 0
        self.max_in_flight = 0  # the most completions the server was answering at once
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

            def do_POST(self):
                with outer.lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    self._post()
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def _post(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.keys.append(self.headers.get("Authorization"))
                time.sleep(outer.delay_s)
                if self.headers.get("Authorization") != "Bearer sekret":
                    return self._reply(401, {"error": {"message": "bad key"}})
                if self.path == "/v1/load_lora_adapter":
                    with outer.lock:
                        outer.loads.append(body)
                        outer.models.add(body["lora_name"])
                    return self._reply(200, {"status": "ok"})
                if self.path != "/v1/chat/completions":
                    return self._reply(404, {"error": {"message": "no such path"}})
                with outer.lock:
                    outer.bodies.append(body)
                    failing = outer.failures > 0
                    outer.failures -= 1
                if failing:
                    return self._reply(503, {"error": {"message": "overloaded"}})
                if body["model"] not in outer.models:
                    return self._reply(404, {"error": {"message": "model does not exist"}})
                words = f"answer from {body['model']} with t={body['temperature']}".split()
                if outer.seeded:  # as a sampling server would: the seed decides the draw
                    words.append(f"draw={random.Random(body['seed']).randrange(1000)}")
                cut = words[: body["max_tokens"]]
                finish = "length" if len(cut) < len(words) else "stop"
                usage = {"prompt_tokens": 11, "completion_tokens": len(cut)}
                if body.get("stream"):
                    return self._stream(cut, finish, usage, body.get("stream_options") or {})
                self._reply(
                    200,
                    {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": " ".join(cut)},
                                "finish_reason": finish,
                            }
                        ],
                        "usage": usage,
                    },
                )

            def _stream(self, words, finish, usage, options):
                """Server-sent events as vLLM sends them: a chunk per token (a word here),
                the finish reason in the last choice, the usage in a chunk of its own when
                asked, then ``[DONE]``."""

                def chunk(choices, **extra):
                    payload = {"id": "cmpl-1", "object": "chat.completion.chunk"}
                    payload |= {"choices": choices, **extra}
                    return f"data: {json.dumps(payload)}\n\n".encode()

                events = [
                    chunk([{"index": 0, "delta": {"content": (" " if i else "") + word}}])
                    for i, word in enumerate(words)
                ]
                events.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
                if options.get("include_usage"):
                    events.append(chunk([], usage=usage))
                events.append(b"data: [DONE]\n\n")
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in events:
                    self.wfile.write(event)
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
