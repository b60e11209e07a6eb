"""Judge kinds by name. A new kind is a ``Judge`` subclass in its own module, listed here."""

from __future__ import annotations

from typing import Any

from judges.errors import JudgeConfigError
from judges.kinds.base import Judge, JudgeContext, JudgeResult, VerdictData
from judges.kinds.pairwise_llm import PairwiseLLMJudge
from judges.kinds.verifier import VerifierJudge

KINDS: dict[str, type[Judge]] = {cls.kind: cls for cls in (VerifierJudge, PairwiseLLMJudge)}


def judge_class(kind: Any) -> type[Judge]:
    if kind not in KINDS:
        raise JudgeConfigError(f"unknown judge kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[kind]


__all__ = [
    "KINDS",
    "Judge",
    "JudgeContext",
    "JudgeResult",
    "VerdictData",
    "judge_class",
    "PairwiseLLMJudge",
    "VerifierJudge",
]
