"""Per-row sampling for one batched generate.

Why: Hugging Face ``generate`` takes ONE temperature / top_k / top_p / repetition_penalty and one
RNG for the whole batch, but a match batches N agents that each have their own settings and seed.
So generate runs in greedy mode (``do_sample=False``) and this processor does the per-row work
with transformers' own processors, each row with its own: ``RepetitionPenaltyLogitsProcessor``,
then ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and ``TopPLogitsWarper`` (generate's order
and its rules for "off"). Rows with the same settings share one call of the warpers (they work
row by row). Only the draw is ours: each row draws from its own ``torch.Generator``, seeded from
the row's seed. We return scores that are -inf everywhere but the chosen token, so the greedy
step of ``generate`` just takes our choice.

Determinism: a row's tokens depend only on its prompt, adapter, settings and seed, not on which
other rows share the batch (each row draws from its own generator, one draw per step), up to the
float noise of batched vs. single matmuls.

Per-row ``max_new_tokens``: generate runs to the largest limit; a row that reaches its own limit
is forced to emit EOS (so generate can stop early once every row is done), and the step is
recorded in ``forced`` so ``finish_reason()`` tells that EOS ("length") from the model's own
("stop"). generate keeps calling us for rows that already ended, so a row that stopped by itself
before its limit is also "forced" later, at a step after its real EOS: hence the step check.

Log-probabilities for rollout audits: at every step the sampler also keeps each row's chosen
token's log-probability under the raw model distribution (log_softmax of the logits generate
hands it, before any penalty or warper), ``chosen_logprobs()``. That is what a later audit
recomputes in one teacher-forced forward pass (``agents.rollout_audit``); the warped
distribution is not, since it depends on the sampling settings and, for the repetition penalty,
on the whole prefix. One log_softmax over the batch's logits per step: small next to the model.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, LogitsProcessorList
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from agents.inference.base import GenerationSettings

_SEED_MASK = (1 << 63) - 1


def warpers_for(settings: GenerationSettings) -> LogitsProcessorList:
    """transformers' warpers for one sampling row, as ``generate(do_sample=True)`` builds them:
    temperature, top-k, top-p, each left out when it is off (1, 0, 1)."""
    warpers = LogitsProcessorList()
    if settings.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(float(settings.temperature)))
    if settings.top_k != 0:
        warpers.append(TopKLogitsWarper(int(settings.top_k)))
    if settings.top_p < 1.0:
        warpers.append(TopPLogitsWarper(float(settings.top_p)))
    return warpers


class PerRowSampler(LogitsProcessor):
    def __init__(
        self,
        *,
        settings: list[GenerationSettings],
        seeds: list[int],
        prompt_length: int,
        pad_lengths: list[int],
        eos_token_id: int,
        eos_token_ids: list[int] | None = None,
        ban_eos: bool = False,
    ):
        self.settings = settings
        self.prompt_length = prompt_length
        self.pad_lengths = pad_lengths
        self.eos_token_id = eos_token_id
        # Benchmarks only: never stop early, so every row makes exactly its token budget.
        self.ban_ids = (eos_token_ids or [eos_token_id]) if ban_eos else []
        self.generators = [torch.Generator().manual_seed(seed & _SEED_MASK) for seed in seeds]
        self.forced: dict[int, int] = {}  # row -> step at which EOS was forced
        self.step_logprobs: list[torch.Tensor] = []  # per step: [rows] raw log-prob of the choice
        self.penalties = [
            RepetitionPenaltyLogitsProcessor(float(s.repetition_penalty))
            if s.repetition_penalty != 1.0
            else None
            for s in settings
        ]
        # Sampling rows grouped by their warper settings: (rows, warpers).
        groups: dict[tuple, list[int]] = {}
        for row, s in enumerate(settings):
            if not s.greedy:
                groups.setdefault((s.temperature, s.top_k, s.top_p), []).append(row)
        self.warper_groups = [(rows, warpers_for(settings[rows[0]])) for rows in groups.values()]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        raw_logprobs = torch.log_softmax(scores.float(), dim=-1)
        warped = self.warp(input_ids, scores)
        best = warped.argmax(dim=-1).tolist()  # greedy rows' choice; one device sync
        chosen = list(best)
        drawing = []
        for row, settings in enumerate(self.settings):
            if step >= settings.max_new_tokens:
                chosen[row] = self.eos_token_id
                self.forced.setdefault(row, step)
            elif not settings.greedy:
                drawing.append(row)
        if drawing:
            # The draw is ours: a generator per row (on the CPU, where seeded draws are stable).
            probs = torch.softmax(warped[drawing], dim=-1).cpu()
            for row, row_probs in zip(drawing, probs, strict=True):
                chosen[row] = int(torch.multinomial(row_probs, 1, generator=self.generators[row]))
        out = torch.full_like(scores, float("-inf"), dtype=torch.float32)
        rows = torch.arange(scores.shape[0], device=scores.device)
        chosen_ids = torch.tensor(chosen, device=scores.device)
        out[rows, chosen_ids] = 0.0
        self.step_logprobs.append(raw_logprobs[rows, chosen_ids])  # stays on the device
        return out

    def chosen_logprobs(self) -> list[list[float]]:
        """Per row, per step: the raw model log-probability of the token chosen at that step
        (one device sync for the whole generate). Steps after a row ended hold noise."""
        if not self.step_logprobs:
            return [[] for _ in self.settings]
        return torch.stack(self.step_logprobs, dim=1).cpu().tolist()

    def warp(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Each row's logits after its repetition penalty and, for a sampling row, its warpers
        (-inf = dropped); a greedy row is only penalised. Float32, a new tensor."""
        scores = scores.float().clone()
        for row, penalty in enumerate(self.penalties):
            if penalty is not None:
                # Left padding is not "present" in the row (generate's own rule too).
                seen = input_ids[row : row + 1, self.pad_lengths[row] :]
                scores[row] = penalty(seen, scores[row : row + 1])[0]
        if self.ban_ids:
            scores[:, self.ban_ids] = float("-inf")
        for rows, warpers in self.warper_groups:
            index = torch.tensor(rows, device=scores.device)
            scores[index] = warpers(input_ids[index], scores[index])
        return scores

    def finish_reason(self, row: int, stop_at: int | None) -> str:
        """``stop_at``: index of the row's first EOS among its new tokens (None: no EOS)."""
        if stop_at is None or self.forced.get(row) == stop_at:
            return "length"
        return "stop"
