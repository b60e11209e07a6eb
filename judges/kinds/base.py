"""The interface every judge kind implements, and the record a judge leaves behind.

A judge gets the whole match at once (prompt, reference, every answer) and returns points per
answer plus the most points one answer could have got from it; ``judges.panel`` turns the points
of all judges into one ranking. Kinds live in their own modules and register in
``judges.kinds.KINDS`` (healthchecks' one-class-per-transport layout); what a kind's config may
hold is its model in ``judges.config``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from judges.config import JudgeConfig, kind_of, parse_judge

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
    config: dict[str, Any]  # the canonical config it ran with
    points: list[float]
    max_points: float
    scores: list[float]  # points / max_points, in [0, 1]
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge(ABC):
    # The kind's config model (``judges.config``): its fields, defaults and requirements.
    Config: ClassVar[type[JudgeConfig]]
    kind: ClassVar[str]  # read from Config, so the kind is named once

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = kind_of(cls.Config)

    def __init__(
        self, config: JudgeConfig | dict[str, Any], *, context: JudgeContext | None = None
    ):
        if not isinstance(config, self.Config):
            config = parse_judge(config, self.Config)
        self.config = config
        self.context = context or JudgeContext()

    @abstractmethod
    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        """Points for each answer, in order."""
