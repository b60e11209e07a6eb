"""Judge kinds by name. A new kind is a ``Judge`` subclass in its own module, listed here, with
its config model in ``judges.config``."""

from __future__ import annotations

from judges.kinds.base import Judge, JudgeContext, JudgeResult, VerdictData
from judges.kinds.http_llm import HttpLLMJudge
from judges.kinds.pairwise_llm import PairwiseLLMJudge
from judges.kinds.score_llm import ScoreLLMJudge
from judges.kinds.verifier import VerifierJudge

KINDS: dict[str, type[Judge]] = {
    cls.kind: cls for cls in (VerifierJudge, PairwiseLLMJudge, ScoreLLMJudge, HttpLLMJudge)
}

__all__ = [
    "KINDS",
    "HttpLLMJudge",
    "Judge",
    "JudgeContext",
    "JudgeResult",
    "VerdictData",
    "PairwiseLLMJudge",
    "ScoreLLMJudge",
    "VerifierJudge",
]
