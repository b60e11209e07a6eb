"""Stand-ins for the judge model: plain deterministic functions with the signature of
``agents.inference.local.label_probabilities``, which read the prompt as a model would."""

from __future__ import annotations

import re

_ANSWERS = re.compile(r"Answer A:\n(?P<a>.*)\n\nAnswer B:\n(?P<b>.*)\n\nWhich answer", re.S)


def shown_answers(messages: list[dict]) -> tuple[str, str]:
    found = _ANSWERS.search(messages[-1]["content"])
    assert found, "the judge prompt shows answers A and B"
    return found["a"], found["b"]


class Recorder:
    """Wraps a preference function and records every prompt it was shown."""

    def __init__(self, prefer):
        self.prefer = prefer
        self.calls: list[list[dict]] = []

    def __call__(self, messages: list[dict], labels: list[str]) -> list[float]:
        assert labels == ["A", "B"]
        self.calls.append(messages)
        return self.prefer(*shown_answers(messages))


def longer(a: str, b: str) -> list[float]:
    """Prefers the longer answer; equal lengths: no preference."""
    if len(a) == len(b):
        return [0.5, 0.5]
    return [0.8, 0.2] if len(a) > len(b) else [0.3, 0.7]


def keyword(word: str):
    """Prefers the answer containing ``word``; when both or neither do, prefers position A (a
    position-biased model, whose two orders then disagree)."""

    def prefer(a: str, b: str) -> list[float]:
        if (word in a) != (word in b):
            return [0.9, 0.1] if word in a else [0.1, 0.9]
        return [0.6, 0.4]

    return prefer


def always_first(a: str, b: str) -> list[float]:
    return [0.7, 0.3]
