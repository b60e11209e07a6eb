"""``pairwise-llm``: the local model compares every pair of answers (RLAIF), in both orders, in
one batched call per match.

For each pair (a, b) the model is shown the task, the reference when there is one, and the two
answers as untrusted data blocks A and B (``judges.kinds.untrusted``), and asked which is better.
We do not parse generated text: we read the model's next-token probabilities of the labels "A"
and "B". Every pair is asked in both orders, and all those conversations of a match go to the
model in ONE batched call (``JudgeContext.batch_label_probabilities``).

Deciding a pair. With ``l_ab = log P(A)/P(B)`` when a is shown first and ``l_ba = log P(A)/P(B)``
when b is shown first, a model with a position prior ``p`` (its liking for a slot, whatever the
content) and a real preference ``m`` for a gives ``l_ab = p + m`` and ``l_ba = p - m``. So the
debiased margin ``m = (l_ab - l_ba) / 2`` is each order's log-odds with the prior removed, averaged
over the two orders (the prior adds the same bias to both orders and cancels), and
``(l_ab + l_ba) / 2`` is this pair's own bias. a wins when ``m >= tie_margin``, b when
``m <= -tie_margin`` (and m is not 0), else the pair is a tie (``by: "margin-below-threshold"``;
config ``tie_margin``, nats, default 0.1: about 52.5% against 47.5%). The old
rule (a wins only when both orders, read raw, prefer it) tied every pair for a model whose prior
outweighs its preferences, as the small default model's does.

The prior itself is estimated and stored with the verdict (what the judge report and the
preference pairs read): the mean bias of this judge's recent pairs in the space
(``judges.prior``, same model, version and instructions, at least ``judges.prior.MIN_PAIRS``
pairs), else a content-free probe in the same batch: the task with both answers "N/A", whose
log-odds are pure position preference ("Calibrate Before Use", Zhao et al. 2021). Each pair also
records whether both orders, each debiased by that prior, prefer the same answer
(``orders_agree``). The decision itself does not depend on the estimate: it cancels exactly.

Two pairs need no model: identical answers (after trimming) tie, and a blank answer loses to a
non-blank one. Points per answer: 1 per pair won, 1/2 per pair tied (Copeland with half points),
out of ``len(answers) - 1``.

Config (``judges.config.PairwiseLLMConfig``): ``instructions`` (the judge's system prompt,
replacing the default; the untrusted-answers notice is always appended), ``max_answer_chars``
(answers are cut to this many characters in the judge's prompt; 100 to 20000, default 2000),
``tie_margin``.
"""

from __future__ import annotations

import hashlib
from functools import partial
from statistics import fmean
from typing import Any

from judges.config import PairwiseLLMConfig
from judges.kinds.base import Judge, JudgeResult, PriorKey
from judges.kinds.labels import ask_labels, log_odds
from judges.kinds.pairs import order_votes, plan_pairs, round_robin_points
from judges.kinds.untrusted import judge_instructions, pair_prompt, prompt_sha256

LABELS = ["A", "B"]
PROBE_ANSWER = "N/A"  # the content-free answer of the probe
QUESTION = "Which answer is better? Reply with A or B only."


def default_label_probabilities_batch(
    conversations: list[list[dict]], labels: list[str]
) -> list[list[float]]:
    """The local default model's label probabilities, one forward pass for all conversations
    (the reader of every local LLM judge when the context injects none)."""
    # Imported here: it loads torch and transformers, which only an LLM judge that actually runs
    # needs; ``judges`` stays importable without them.
    from agents.inference.local import label_probabilities_batch

    return label_probabilities_batch(conversations, labels)


def build_messages(
    *, instructions: str, prompt_text: str, reference: str, first: str, second: str, limit: int
) -> list[dict]:
    """The conversation for one order: ``first`` shown as A, ``second`` as B."""
    shown = pair_prompt(
        prompt_text=prompt_text, reference=reference, first=first, second=second, limit=limit
    )
    parts = [shown, QUESTION]
    return [
        {"role": "system", "content": judge_instructions(instructions)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


class PairwiseLLMJudge(Judge):
    Config = PairwiseLLMConfig
    config: PairwiseLLMConfig
    # 1: both orders read raw, a tie unless they agree. 2: debiased log-odds margin, one batch.
    version = 2

    def _messages(self, prompt_text: str, reference: str, first: str, second: str) -> list[dict]:
        return build_messages(
            instructions=self.config.instructions,
            prompt_text=prompt_text,
            reference=reference,
            first=first,
            second=second,
            limit=self.config.max_answer_chars,
        )

    def prior_key(self) -> PriorKey:
        system = judge_instructions(self.config.instructions)
        return PriorKey(
            kind=self.kind,
            version=self.version,
            model=self.context.judge_model,
            instructions_sha256=hashlib.sha256(system.encode()).hexdigest(),
        )

    def judge(self, *, prompt_text: str, reference: str, answers: list[str]) -> JudgeResult:
        pairs, asked, conversations = plan_pairs(
            answers, partial(self._messages, prompt_text, reference)
        )

        key = self.prior_key()
        stored = None
        if asked and self.context.stored_prior is not None:
            stored = self.context.stored_prior(key)
        probe = None
        if asked and stored is None:
            probe = self._messages(prompt_text, reference, PROBE_ANSWER, PROBE_ANSWER)
            conversations.append(probe)
        read = self.context.batch_label_probabilities() or default_label_probabilities_batch
        probs = ask_labels(read, conversations, LABELS)  # ONE call for the whole match

        prior: dict[str, Any] | None = None
        if stored is not None:
            prior = {"log_odds": stored.log_odds, "source": "verdicts", "pairs": stored.pairs}
        elif probe is not None:
            p = probs[-1]
            prior = {
                "log_odds": log_odds(*p),
                "source": "probe",
                "pairs": 0,
                "probe": {"p": p, "prompt_sha256": prompt_sha256(probe)},
            }
        for n, pair in enumerate(asked):
            self._decide(pair, probs[2 * n], probs[2 * n + 1], conversations[2 * n : 2 * n + 2])
            pair["orders_agree"] = self._orders_agree(pair, prior["log_odds"])

        biases = [pair["bias"] for pair in asked]
        return JudgeResult(
            points=round_robin_points(pairs, len(answers)),
            max_points=float(max(len(answers) - 1, 0)),
            details={
                "model": key.model,
                "instructions_sha256": key.instructions_sha256,
                "labels": LABELS,
                "tie_margin": self.config.tie_margin,
                "calls": 1 if conversations else 0,
                "prior": prior,
                "mean_bias": fmean(biases) if biases else None,  # this match's own pairs
                "pairs": pairs,
            },
        )

    def _decide(
        self, pair: dict[str, Any], p_ab: list[float], p_ba: list[float], shown: list[list[dict]]
    ) -> None:
        l_ab = log_odds(*p_ab)  # log P(A)/P(B), a shown as A
        l_ba = log_odds(*p_ba)  # log P(A)/P(B), b shown as A
        margin = (l_ab - l_ba) / 2  # for a: each order debiased, averaged; the prior cancels
        if margin >= self.config.tie_margin and margin > 0:
            winner, by = pair["a"], "model"
        elif margin <= -self.config.tie_margin and margin < 0:
            winner, by = pair["b"], "model"
        else:
            winner, by = None, "margin-below-threshold"
        pair.update(
            winner=winner,
            by=by,
            p_ab=p_ab,  # [P(A), P(B)] with a shown as A
            p_ba=p_ba,  # [P(A), P(B)] with b shown as A
            l_ab=l_ab,
            l_ba=l_ba,
            bias=(l_ab + l_ba) / 2,  # this pair's position bias (toward slot A)
            margin=margin,  # debiased preference for a, in nats
            prompt_sha256=[prompt_sha256(messages) for messages in shown],
        )

    @staticmethod
    def _orders_agree(pair: dict[str, Any], prior: float) -> bool:
        """Whether each order alone, with the prior removed, prefers the same answer."""
        first, second = order_votes(pair, prior)
        return first == second != 0
