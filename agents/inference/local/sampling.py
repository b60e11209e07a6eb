"""Per-row sampling for one batched generate.

Why by hand: Hugging Face ``generate`` takes ONE temperature / top_k / top_p / repetition_penalty
and one RNG for the whole batch, but a match batches N agents that each have their own settings
and seed. So generate runs in greedy mode (``do_sample=False``) and this processor does all the
per-row work: repetition penalty, temperature, top-k, top-p, and the draw itself, each row with its
own ``torch.Generator`` seeded from the row's seed. It returns scores that are -inf everywhere but
the chosen token, so the greedy step of ``generate`` just takes our choice.

Determinism: a row's tokens depend only on its prompt, adapter, settings and seed, not on which
other rows share the batch (each row draws from its own generator, one draw per step), up to the
float noise of batched vs. single matmuls.

Per-row ``max_new_tokens``: generate runs to the largest limit; a row that reaches its own limit
is forced to emit EOS (so generate can stop early once every row is done), and the step is
recorded in ``forced`` so ``finish_reason()`` tells that EOS ("length") from the model's own
("stop"). generate keeps calling us for rows that already ended, so a row that stopped by itself
before its limit is also "forced" later, at a step after its real EOS: hence the step check.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from agents.inference.base import GenerationSettings

_SEED_MASK = (1 << 63) - 1
TOP_P_CANDIDATES = 1024


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
        self._temperature = torch.tensor([s.temperature for s in settings], dtype=torch.float32)
        self._top_k = [s.top_k for s in settings]
        self._top_p = torch.tensor([s.top_p for s in settings], dtype=torch.float32)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float().clone()
        step = input_ids.shape[1] - self.prompt_length
        self._repetition_penalty(input_ids, scores)
        if self.ban_ids:
            scores[:, self.ban_ids] = float("-inf")
        chosen = torch.empty(scores.shape[0], dtype=torch.long)
        for row, settings in enumerate(self.settings):
            if step >= settings.max_new_tokens:
                chosen[row] = self.eos_token_id
                self.forced.setdefault(row, step)
            elif settings.greedy:
                chosen[row] = int(torch.argmax(scores[row]))
            else:
                chosen[row] = self._sample(row, scores[row])
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0], device=scores.device), chosen.to(scores.device)] = 0.0
        return out

    def finish_reason(self, row: int, stop_at: int | None) -> str:
        """``stop_at``: index of the row's first EOS among its new tokens (None: no EOS)."""
        if stop_at is None or self.forced.get(row) == stop_at:
            return "length"
        return "stop"

    def _repetition_penalty(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> None:
        # Same rule as HF's RepetitionPenaltyLogitsProcessor (CTRL paper): divide positive logits
        # of tokens already present, multiply negative ones; left padding is not "present".
        for row, settings in enumerate(self.settings):
            penalty = settings.repetition_penalty
            if penalty == 1.0:
                continue
            seen = torch.unique(input_ids[row, self.pad_lengths[row] :])
            values = scores[row, seen]
            scores[row, seen] = torch.where(values < 0, values * penalty, values / penalty)

    def _sample(self, row: int, logits: torch.Tensor) -> int:
        # HF's order: temperature, then top-k, then top-p. This runs every step for every row,
        # so avoid sorting the whole vocabulary: top-p works on the top-k candidates, or without
        # top-k on the top TOP_P_CANDIDATES tokens whenever they already hold top_p of the mass
        # (exact: every token past them would be dropped anyway); a full sort only otherwise.
        logits = logits.cpu() / self._temperature[row]
        top_k, top_p = self._top_k[row], float(self._top_p[row])
        vocab = logits.shape[-1]
        order = None
        if 0 < top_k < vocab:
            values, order = torch.topk(logits, top_k)  # sorted, largest first
            probs = torch.softmax(values, dim=-1)
        elif top_p < 1.0:
            values, order = torch.topk(logits, min(TOP_P_CANDIDATES, vocab))
            probs = torch.exp(values - torch.logsumexp(logits, dim=-1))
            if float(probs.sum()) < top_p:
                values, order = torch.sort(logits, descending=True)
                probs = torch.softmax(values, dim=-1)
        else:
            values = logits
        if top_p < 1.0:
            # Drop a token when the tokens before it already reach top_p (the first always stays).
            drop = (torch.cumsum(probs, dim=-1) - probs) > top_p
            values = values.masked_fill(drop, float("-inf"))
        pick = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=self.generators[row])
        return int(order[pick]) if order is not None else int(pick)
