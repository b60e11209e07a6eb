"""``http-llm``: an OpenAI-compatible chat endpoint compares every pair of answers and replies
with a JSON verdict.

Each pair (a, b) is asked in both orders (a shown as A, then b shown as A), through the official
``openai`` SDK (``timeout_s`` per request, ``max_retries`` for timeouts, connection errors, 429
and 5xx, with the SDK's back-off). The prompt holds the creator's ``rubric``, the task, the
reference when there is one, and the two answers as untrusted data blocks
(``judges.kinds.untrusted``). The reply must be a JSON object ``{"winner": "A" | "B" | "tie",
"reason": "..."}`` (a ```json fence around it is accepted), validated with pydantic
(``PairReply``); a malformed reply is asked again, up to ``max_retries`` more times.

A pair's winner is the answer both orders name. Orders that disagree, or a "tie", make the pair
a tie (``by: "orders-disagreed"``). A reply that is still malformed, or missing (the endpoint
failed after its retries), is no verdict: the pair is a tie with ``by: "no-verdict"``, never a
win for either answer. Points as ``pairwise-llm``: 1 per pair won, 1/2 per pair tied, out of
``len(answers) - 1``.

The endpoint's key is never stored: ``api_key_env`` names the environment variable that holds it,
and only names starting with ``ARENA_JUDGE_KEY_`` are accepted (``judges.config``), so a creator
cannot have the server send one of its own secrets to an endpoint of their choosing. For the same
reason the endpoint must not resolve to a private, loopback or link-local address unless the
setting ``ARENA_HTTP_JUDGE_ALLOW_PRIVATE`` is true (a judge on the operator's own network).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

import openai
import regex
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from judges.config import HttpLLMConfig
from judges.errors import JudgeRunError
from judges.kinds.base import Judge, JudgeResult
from judges.kinds.pairs import plan_pairs, round_robin_points
from judges.kinds.untrusted import judge_instructions, pair_prompt, prompt_sha256

MAX_REPLY_TOKENS = 300
MAX_STORED_CHARS = 2000  # of each raw reply and reason kept in the verdict
MAX_PARALLEL = 8
CONNECT_TIMEOUT_S = 5.0
# The SDK insists on a key; an endpoint without one ignores it (vLLM's docs use this placeholder).
NO_API_KEY = "EMPTY"
REPLY_FORMAT = (
    'Reply with a JSON object only, no other text: {"winner": "A" or "B" or "tie", '
    '"reason": "one short sentence"}.'
)
QUESTION = "Which answer is better by the rubric? " + REPLY_FORMAT
_FENCE = regex.compile(r"^```(?:json)?\s*\n?(?P<body>.*?)\n?```$", regex.DOTALL | regex.IGNORECASE)


class PairReply(BaseModel):
    """What the endpoint must reply: the protocol of this judge."""

    model_config = ConfigDict(extra="ignore")

    winner: Literal["A", "B", "tie"]
    reason: str = Field("", max_length=10_000)


def parse_reply(text: str) -> PairReply:
    """The reply as a PairReply, or pydantic's ValidationError."""
    text = text.strip()
    fenced = _FENCE.match(text)
    return PairReply.model_validate_json(fenced["body"] if fenced else text)


def build_messages(
    *, rubric: str, prompt_text: str, reference: str, first: str, second: str, limit: int
) -> list[dict]:
    shown = pair_prompt(
        prompt_text=prompt_text, reference=reference, first=first, second=second, limit=limit
    )
    parts = [shown, QUESTION]
    system = (
        "You are a fair and strict judge. You compare two answers to the same task by this "
        f"rubric:\n{rubric.strip()}\n\n{REPLY_FORMAT}"
    )
    return [
        {"role": "system", "content": judge_instructions(system)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def check_public_host(url: str) -> None:
    """JudgeRunError when the endpoint's host resolves to a non-public address (and the
    operator did not allow that); an unresolvable host is left to the request to fail."""
    if settings.ARENA_HTTP_JUDGE_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise JudgeRunError(
                f"the http-llm endpoint {parts.hostname} resolves to a non-public address "
                f"({address}); set ARENA_HTTP_JUDGE_ALLOW_PRIVATE to allow it"
            )


class HttpLLMJudge(Judge):
    Config = HttpLLMConfig
    config: HttpLLMConfig
    version = 1

    def _client(self) -> openai.OpenAI:
        key = NO_API_KEY
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env, "")
            if not key:
                raise JudgeRunError(
                    f"the http-llm judge's key variable {self.config.api_key_env} is not set"
                )
        timeout = self.config.timeout_s
        return openai.OpenAI(
            base_url=self.config.base_url,
            api_key=key,
            timeout=openai.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
            max_retries=self.config.max_retries,
        )

    def _messages(self, prompt_text: str, reference: str, first: str, second: str) -> list[dict]:
        return build_messages(
            rubric=self.config.rubric,
            prompt_text=prompt_text,
            reference=reference,
            first=first,
            second=second,
            limit=self.config.max_answer_chars,
        )

    def _ask(self, client: openai.OpenAI, messages: list[dict]) -> dict[str, Any]:
        """One order: {"verdict": "A" | "B" | "tie" | None, "outputs": raw replies, ...}."""
        outputs: list[str] = []
        for _ in range(1 + self.config.max_retries):  # the SDK retries transport failures
            try:
                completion = client.chat.completions.create(
                    model=self.config.model,
                    messages=messages,
                    temperature=0,
                    max_tokens=MAX_REPLY_TOKENS,
                )
                text = completion.choices[0].message.content or ""
            except openai.OpenAIError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                return {"verdict": None, "error": error, "outputs": outputs}
            except (AttributeError, IndexError, TypeError):  # a body that is no chat completion
                outputs.append("")
                continue
            outputs.append(text[:MAX_STORED_CHARS])
            try:
                reply = parse_reply(text)
            except ValidationError:
                continue
            return {
                "verdict": reply.winner,
                "reason": reply.reason[:MAX_STORED_CHARS],
                "outputs": outputs,
            }
        return {"verdict": None, "error": "malformed reply", "outputs": outputs}

    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        pairs, asked, conversations = plan_pairs(
            answers, partial(self._messages, prompt_text, reference)
        )

        replies: list[dict[str, Any]] = []
        if conversations:
            check_public_host(self.config.base_url)
            client = self._client()
            with ThreadPoolExecutor(min(MAX_PARALLEL, len(conversations))) as pool:
                replies = list(pool.map(lambda m: self._ask(client, m), conversations))
        for n, pair in enumerate(asked):
            first, second = replies[2 * n], replies[2 * n + 1]
            # Each order's verdict as the answer it names: order 1 shows a as A, order 2 b as A.
            named = [
                {"A": pair["a"], "B": pair["b"]}.get(first["verdict"]),
                {"A": pair["b"], "B": pair["a"]}.get(second["verdict"]),
            ]
            if first["verdict"] is None or second["verdict"] is None:
                winner, by = None, "no-verdict"
            elif named[0] is not None and named[0] == named[1]:
                winner, by = named[0], "endpoint"
            else:
                winner, by = None, "orders-disagreed"
            pair.update(
                winner=winner,
                by=by,
                replies=[first, second],
                prompt_sha256=[prompt_sha256(m) for m in conversations[2 * n : 2 * n + 2]],
            )

        return JudgeResult(
            points=round_robin_points(pairs, len(answers)),
            max_points=float(max(len(answers) - 1, 0)),
            details={
                "base_url": self.config.base_url,
                "model": self.config.model,
                "requests": len(conversations),
                "no_verdict": sum(p["by"] == "no-verdict" for p in pairs),
                "pairs": pairs,
            },
        )
