"""The http-llm judge against an in-test server speaking the OpenAI chat-completions protocol:
valid, malformed and missing verdicts, and what each verdict records."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judges.config import parse_panel
from judges.errors import JudgeConfigError, JudgeRunError
from judges.kinds import HttpLLMJudge
from judges.kinds.untrusted import UNTRUSTED_NOTICE, prompt_sha256
from judges.panel import run_panel
from tests.judges.fakes import shown

KEY_ENV = "ARENA_JUDGE_KEY_TEST"


def verdict_for(word: str) -> Callable[[dict], str]:
    """A judge that names the answer containing ``word`` (else a tie), as JSON."""

    def reply(blocks: dict) -> str:
        winner = "tie"
        if (word in blocks["A"]) != (word in blocks["B"]):
            winner = "A" if word in blocks["A"] else "B"
        return json.dumps({"winner": winner, "reason": f"the one with {word}"})

    return reply


class FakeJudgeEndpoint:
    """A chat-completions server whose reply is ``reply(answer blocks shown)``."""

    def __init__(self, reply: Callable[[dict], str], *, delay_s: float = 0.0, status: int = 200):
        self.reply = reply
        self.delay_s = delay_s
        self.status = status
        self.bodies: list[dict] = []
        self.keys: list[str | None] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    outer.keys.append(self.headers.get("Authorization"))
                time.sleep(outer.delay_s)
                if outer.status != 200:
                    payload = {"error": {"message": "down"}}
                else:
                    content = outer.reply(shown(body["messages"]))
                    payload = {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def local_endpoints_allowed(settings, monkeypatch):
    settings.ARENA_HTTP_JUDGE_ALLOW_PRIVATE = True
    monkeypatch.setenv(KEY_ENV, "sekret")


def config(url: str, **more) -> dict:
    return {"kind": "http-llm", "base_url": url, "model": "judge-1", "api_key_env": KEY_ENV, **more}


def judge(url: str, answers: list[str], **more):
    return HttpLLMJudge(config(url, **more)).judge(
        prompt_text="Write about rain", reference="", answers=answers
    )


def test_a_valid_verdict_in_both_orders_decides_the_pair():
    with FakeJudgeEndpoint(verdict_for("rain")) as server:
        result = judge(server.url, ["sun", "rain falls", "rain again"])
    assert result.points == [0, 1.5, 1.5]
    first, second, third = result.details["pairs"]
    assert first["winner"] == 1 and first["by"] == "endpoint"
    assert first["orders"] == [[0, 1], [1, 0]]
    assert [r["verdict"] for r in first["replies"]] == ["B", "A"]
    assert first["replies"][0]["outputs"] == [
        json.dumps({"winner": "B", "reason": "the one with rain"})
    ]
    assert third["winner"] is None and third["by"] == "orders-disagreed"  # both said "tie"
    # Every request: the model, the key from the environment, the answers as untrusted data.
    assert len(server.bodies) == 6 and result.details["requests"] == 6
    assert {b["model"] for b in server.bodies} == {"judge-1"}
    assert set(server.keys) == {"Bearer sekret"}
    system = server.bodies[0]["messages"][0]["content"]
    assert system.endswith(UNTRUSTED_NOTICE) and '"winner"' in system
    hashes = {prompt_sha256(b["messages"]) for b in server.bodies}
    assert hashes == {h for pair in result.details["pairs"] for h in pair["prompt_sha256"]}
    assert result.details["no_verdict"] == 0


def test_a_fenced_json_reply_is_accepted():
    with FakeJudgeEndpoint(lambda blocks: f"```json\n{verdict_for('rain')(blocks)}\n```") as s:
        assert judge(s.url, ["sun", "rain"]).points == [0, 1]


@pytest.mark.parametrize(
    "reply",
    [
        "B, clearly",  # not JSON
        '{"winner": "b"}',  # not one of the allowed values
        '{"verdict": "A"}',  # no winner
        "",
    ],
)
def test_a_malformed_reply_is_no_verdict_never_a_win(reply):
    with FakeJudgeEndpoint(lambda blocks: reply) as server:
        result = judge(server.url, ["sun", "rain"], max_retries=1)
    [pair] = result.details["pairs"]
    assert pair["winner"] is None and pair["by"] == "no-verdict"
    assert result.points == [0.5, 0.5]
    # Asked again once per order, then given up: each order kept its raw replies.
    assert len(server.bodies) == 4
    assert [r["error"] for r in pair["replies"]] == ["malformed reply"] * 2
    assert pair["replies"][0]["outputs"] == [reply, reply]
    assert result.details["no_verdict"] == 1


def test_one_malformed_order_is_enough_for_no_verdict():
    def reply(blocks):
        return verdict_for("rain")(blocks) if blocks["A"] == "sun" else "nope"

    with FakeJudgeEndpoint(reply) as server:
        result = judge(server.url, ["sun", "rain"], max_retries=0)
    assert result.details["pairs"][0]["by"] == "no-verdict" and result.points == [0.5, 0.5]


def test_a_timeout_is_no_verdict():
    with FakeJudgeEndpoint(verdict_for("rain"), delay_s=2.5) as server:
        started = time.monotonic()
        result = judge(server.url, ["sun", "rain"], timeout_s=1, max_retries=0)
        assert time.monotonic() - started < 2.4
    [pair] = result.details["pairs"]
    assert pair["by"] == "no-verdict" and result.points == [0.5, 0.5]
    assert all("Timeout" in r["error"] for r in pair["replies"])


def test_a_failing_endpoint_is_retried_then_no_verdict():
    with FakeJudgeEndpoint(verdict_for("rain"), status=503) as server:
        result = judge(server.url, ["sun", "rain"], max_retries=1)
    assert result.details["pairs"][0]["by"] == "no-verdict"
    assert len(server.bodies) == 4  # each order: the request and the SDK's one retry


def test_identical_and_blank_answers_need_no_request():
    with FakeJudgeEndpoint(verdict_for("rain")) as server:
        result = judge(server.url, ["same", "same ", ""])
    assert server.bodies == [] and result.points == [1.5, 1.5, 0]


def test_it_refuses_a_private_endpoint_unless_allowed(settings):
    settings.ARENA_HTTP_JUDGE_ALLOW_PRIVATE = False
    with pytest.raises(JudgeRunError, match="non-public address"):
        judge("http://127.0.0.1:9/v1", ["sun", "rain"])


def test_a_missing_key_variable_fails_judging(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(JudgeRunError, match=f"{KEY_ENV} is not set"):
        judge("http://127.0.0.1:9/v1", ["sun", "rain"])


def test_the_panel_stores_the_kind_and_version():
    with FakeJudgeEndpoint(verdict_for("rain")) as server:
        outcome = run_panel(
            panel_config=[config(server.url)],
            prompt_text="Write about rain",
            reference="",
            answers=["rain", "sun"],
        )
    [verdict] = outcome.verdicts
    assert (verdict.judge_kind, verdict.version) == ("http-llm", 1)
    assert verdict.config == config(server.url)  # the variable's name, never the key
    assert "sekret" not in json.dumps(verdict.as_dict())
    assert outcome.ranks == [1, 2]


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"base_url": "file:///etc/passwd"}, "base_url must be an http"),
        ({"base_url": "https://user:pw@judge.example/v1"}, "must not hold credentials"),
        ({"api_key_env": "DJANGO_SECRET_KEY"}, "starting with ARENA_JUDGE_KEY_"),
        ({"api_key_env": "sk-live-123"}, "api_key_env"),
        ({"model": ""}, "model"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_retries": 9}, "max_retries"),
        ({"api_key": "sk-live-123"}, r"unknown key\(s\) api_key"),
    ],
)
def test_it_refuses_a_bad_config(more, message):
    with pytest.raises(JudgeConfigError, match=message):
        parse_panel([config("https://judge.example/v1", **more)])
