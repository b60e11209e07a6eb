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

# One conversation -> the probability of each label as the model's next token.
LabelProbabilities = Callable[[list[dict], list[str]], list[float]]
# Several conversations -> one list of label probabilities each, in one forward pass.
LabelProbabilitiesBatch = Callable[[list[list[dict]], list[str]], list[list[float]]]
# The model name a context gets by default; ``run_panel`` names the local model precisely.
LOCAL_JUDGE_MODEL = "local-default"


@dataclass(frozen=True)
class PriorKey:
    """Which stored verdicts a judge's position prior may be estimated from: same kind, same
    logic, same model, same instructions (the prior depends on all four)."""

    kind: str
    version: int
    model: str
    instructions_sha256: str


@dataclass(frozen=True)
class StoredPrior:
    log_odds: float  # the mean position bias, log P(A)/P(B), of the stored pairs
    pairs: int  # how many stored pairs it averages


# What ``judges.prior`` finds in a space's stored verdicts for a judge, or None.
PriorLookup = Callable[[PriorKey], StoredPrior | None]


@dataclass(frozen=True)
class JudgeContext:
    """What a judge may call out to, and what it may read besides the prompt and reference.

    LLM judges read label probabilities through ``batch_label_probabilities()``: the injected
    ``label_probabilities_batch`` when given, else the one-conversation ``label_probabilities``
    applied to each conversation, else None: the local default model
    (``judges.kinds.pairwise_llm.default_label_probabilities_batch``). ``judge_model`` names
    the model behind them (stored with verdicts; a position prior is estimated per model).
    ``stored_prior`` finds a judge's position prior in the match's space's earlier verdicts
    (``judges.prior``; None when the space is not known). ``tests`` are the prompt's test
    snippets, read by a verifier in mode tests (empty when the prompt has none)."""

    label_probabilities: LabelProbabilities | None = None
    label_probabilities_batch: LabelProbabilitiesBatch | None = None
    judge_model: str = LOCAL_JUDGE_MODEL
    stored_prior: PriorLookup | None = None
    tests: tuple[str, ...] = ()

    def batch_label_probabilities(self) -> LabelProbabilitiesBatch | None:
        """The injected label reader, batched; None when none was injected."""
        if self.label_probabilities_batch is not None:
            return self.label_probabilities_batch
        single = self.label_probabilities
        if single is not None:
            return lambda conversations, labels: [single(c, labels) for c in conversations]
        return None


@dataclass(frozen=True)
class JudgeResult:
    points: list[float]  # one per answer, higher is better
    max_points: float  # the most one answer can get from this judge (0: the judge can't tell)
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific, JSON-serialisable


@dataclass(frozen=True)
class VerdictData:
    """One judge's verdict on one match, as stored in ``Verdict.data`` (minus ``judge_kind``)."""

    judge_kind: str
    version: int  # the kind's ``Judge.version`` (verdicts stored before versions: 1)
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
    # Bumped whenever the kind's logic changes what it decides; stored with every verdict so
    # verdicts of different logic are never mixed (priors, reports, preference pairs).
    version: ClassVar[int] = 1

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
