"""The interface every judge kind implements, and the record a judge leaves behind.

A judge gets the whole match at once (prompt, reference, every answer) and returns points per
answer plus the most points one answer could have got from it; ``judges.panel`` turns the points
of all judges into one ranking. Kinds live in their own modules and register in
``judges.kinds.KINDS`` (healthchecks' one-class-per-transport layout).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from judges.errors import JudgeConfigError

# Keys any judge config may carry; the panel reads them, the kind ignores them.
COMMON_KEYS = frozenset({"kind", "weight"})

LabelProbabilities = Callable[[list[dict], list[str]], list[float]]


@dataclass(frozen=True)
class JudgeContext:
    """What a judge may call out to, and what it may read besides the prompt and reference.
    Tests pass their own functions; None means the default (for ``label_probabilities``: the
    local model of ``agents.inference.local``). ``tests`` are the prompt's test snippets, read by
    a verifier in mode tests (empty when the prompt has none)."""

    label_probabilities: LabelProbabilities | None = None
    tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class JudgeResult:
    points: list[float]  # one per answer, higher is better
    max_points: float  # the most one answer can get from this judge (0: the judge can't tell)
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific, JSON-serialisable


@dataclass(frozen=True)
class VerdictData:
    """One judge's verdict on one match, as stored in ``Verdict.data`` (minus ``judge_kind``)."""

    judge_kind: str
    index: int  # the judge's position in the panel
    config: dict[str, Any]  # the normalised config it ran with
    points: list[float]
    max_points: float
    scores: list[float]  # points / max_points, in [0, 1]
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge(ABC):
    kind: ClassVar[str]
    # Whether the kind needs a reference answer on every prompt (spaces checks this on save).
    needs_reference: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any], *, context: JudgeContext | None = None):
        self.config = self.normalize_config(config)
        self.context = context or JudgeContext()

    @classmethod
    @abstractmethod
    def normalize_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The canonical config (defaults filled only where stored configs rely on them), or
        JudgeConfigError saying what is wrong. Must not include the common keys."""

    @abstractmethod
    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        """Points for each answer, in order."""


# --- helpers for config checks --------------------------------------------------------------


def check_keys(config: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed - COMMON_KEYS)
    if unknown:
        known = ", ".join(sorted(allowed | COMMON_KEYS))
        raise JudgeConfigError(f"unknown key(s) {', '.join(unknown)}; allowed: {known}")


def parse_decimal(value: Any, what: str) -> Decimal:
    """A finite decimal from a string. Floats are refused: 0.1 is not exactly one tenth."""
    if not isinstance(value, str):
        raise JudgeConfigError(f'{what} must be a decimal string such as "0.5", not {value!r}')
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise JudgeConfigError(f"{what}: {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise JudgeConfigError(f"{what}: {value!r} is not a finite number")
    return number


def is_int(value: Any) -> bool:
    # bool is an int in Python; a JSON true must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)
