"""Stand-ins for the judge model (no tests here; the judge tests import them): deterministic
functions of the conversation with the signature of
``agents.inference.local.label_probabilities_batch``, which read the prompt as a model would.

A pairwise stand-in answers with log-odds ``bias + prefer(A, B)``: ``bias`` is its position prior
(its liking for slot A, whatever the content), ``prefer`` its real preference for the answer in
slot A over the one in slot B (0 for equal answers, antisymmetric)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

# The judge shows each answer as <answer id="X">\n...\n</answer> (judges.kinds.untrusted).
_BLOCK = re.compile(r'<answer id="(?P<id>[^"]+)">\n(?P<text>.*?)\n</answer>', re.S)


def shown(messages: list[dict]) -> dict[str, str]:
    """The answer blocks of the judge's prompt, by id."""
    blocks = {m["id"]: m["text"] for m in _BLOCK.finditer(messages[-1]["content"])}
    assert blocks, "the judge prompt shows its answers as <answer> blocks"
    return blocks


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class FakeModel:
    """A batched stand-in; records every call as (conversations, labels)."""

    def __init__(
        self,
        prefer: Callable[[str, str], float] | None = None,
        *,
        bias: float = 0.0,
        score: Callable[[str], list[float]] | None = None,
    ):
        self.prefer = prefer or (lambda a, b: 0.0)
        self.bias = bias
        self.score = score
        self.calls: list[tuple[list[list[dict]], list[str]]] = []

    def __call__(self, conversations: list[list[dict]], labels: list[str]) -> list[list[float]]:
        self.calls.append((conversations, labels))
        return [self.one(messages, labels) for messages in conversations]

    def one(self, messages: list[dict], labels: list[str]) -> list[float]:
        blocks = shown(messages)
        if labels == ["A", "B"]:
            p = sigmoid(self.bias + self.prefer(blocks["A"], blocks["B"]))
            return [p, 1 - p]
        assert self.score is not None and list(blocks) == ["1"]
        return self.score(blocks["1"])

    @property
    def conversations(self) -> list[list[dict]]:
        return [c for batch, _ in self.calls for c in batch]


def longer(strength: float = 1.0) -> Callable[[str, str], float]:
    """Prefers the longer answer by ``strength`` nats; equal lengths: no preference."""
    return lambda a, b: strength * ((len(a) > len(b)) - (len(a) < len(b)))


def keyword(word: str, strength: float = 2.0) -> Callable[[str, str], float]:
    """Prefers the answer containing ``word``; both or neither: no preference."""
    return lambda a, b: strength * ((word in a) - (word in b))
