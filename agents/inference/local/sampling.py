"""Per-row sampling for one batched generate, vectorised across rows.

Why: Hugging Face ``generate`` takes ONE temperature / top_k / top_p / repetition_penalty and one
RNG for the whole batch, but a match batches N agents that each have their own settings and seed.
So generate runs in greedy mode (``do_sample=False``) and this processor does the per-row work.
The settings are per-row tensors and each step is one tensor op per processor over all rows,
written as transformers' own ``RepetitionPenaltyLogitsProcessor``, ``TemperatureLogitsWarper``,
``TopKLogitsWarper`` and ``TopPLogitsWarper`` compute (generate's order; tests hold the result
equal to those processors applied row by row): a row whose setting is off (temperature 1,
top_k 0, top_p 1, penalty 1) or that is greedy gets the identity for it (divide by 1; a top-k
threshold of -inf; a top-p threshold no cumulative probability reaches; multiply by 1), so the
ops need no per-row branches. Hand-written because transformers' processors take one value for
the batch. Only the uniform of the draw is per row: each sampling row takes one number per step
from its own ``torch.Generator``, seeded from the row's seed, and the token is found by inverse
transform sampling over all rows at once (``draw``). We return scores that are -inf everywhere
but the chosen token, so the greedy step of ``generate`` just takes our choice.

Determinism: a row's tokens depend only on its prompt, adapter, settings and seed, not on which
other rows share the batch (each row draws from its own generator, one uniform per step), up to
the float noise of batched vs. single matmuls.

Per-row ``max_new_tokens``: generate runs to the largest limit; a row that reaches its own limit
is forced to emit EOS (so generate can stop early once every row is done), and
``finish_reason()`` tells that EOS ("length") from the model's own ("stop"). generate keeps
calling us for rows that already ended, so a row that stopped by itself before its limit is also
"forced" later, at a step after its real EOS: hence the step check.

Log-probabilities for rollout audits: at every step the sampler also keeps each row's chosen
token's log-probability under the raw model distribution (log_softmax of the logits generate
hands it, before any penalty or warper), ``chosen_logprobs()``. That is what a later audit
recomputes in one teacher-forced forward pass (``agents.rollout_audit``); the warped
distribution is not, since it depends on the sampling settings and, for the repetition penalty,
on the whole prefix. One log_softmax over the batch's logits per step: small next to the model.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from agents.inference.base import GenerationSettings

_SEED_MASK = (1 << 63) - 1
_NEG_INF = float("-inf")


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
        self.limits = [s.max_new_tokens for s in settings]
        self.last_step = -1
        self.step_logprobs: list[torch.Tensor] = []  # per step: [rows] raw log-prob of the choice
        self.drawing = [row for row, s in enumerate(settings) if not s.greedy]
        sampling = [not s.greedy for s in settings]
        # Per-row values, "off" (or greedy) rows holding their identity; as Python lists here,
        # as tensors on the logits' device at the first step (``_tensors``).
        self.penalties = [float(s.repetition_penalty) for s in settings]
        self.temperatures = [
            float(s.temperature) if on and s.temperature != 1.0 else 1.0
            for s, on in zip(settings, sampling, strict=True)
        ]
        self.top_ks = [int(s.top_k) if on else 0 for s, on in zip(settings, sampling, strict=True)]
        # transformers removes sorted tokens whose cumulative probability is <= 1 - top_p (the
        # Python float, compared in float32); -inf: nothing is removed.
        self.top_p_limits = [
            1 - float(s.top_p) if on and s.top_p < 1.0 else _NEG_INF
            for s, on in zip(settings, sampling, strict=True)
        ]
        self._device_tensors: dict | None = None

    def _tensors(self, scores: torch.Tensor) -> dict:
        if self._device_tensors is None:
            device, vocab = scores.device, scores.shape[-1]
            top_ks = [min(k, vocab) for k in self.top_ks]

            def column(values, dtype=torch.float32):
                return torch.tensor(values, dtype=dtype, device=device)[:, None]

            penalised = any(p != 1.0 for p in self.penalties)
            heated = any(t != 1.0 for t in self.temperatures)
            top_p_rows = [row for row, limit in enumerate(self.top_p_limits) if limit != _NEG_INF]
            self._device_tensors = {
                "penalty": column(self.penalties) if penalised else None,
                "temperature": column(self.temperatures) if heated else None,
                # top-k: the k-th largest value is the threshold (rows off: index 0, masked).
                "top_k_max": max(top_ks),
                "top_k_index": column([max(k, 1) - 1 for k in top_ks], torch.long),
                "top_k_off": column([k == 0 for k in top_ks], torch.bool),
                # Only the rows with top-p on go through it (the others' threshold is -inf).
                "top_p_rows": torch.tensor(top_p_rows, device=device) if top_p_rows else None,
                "top_p_limit": column([self.top_p_limits[row] for row in top_p_rows]),
                "pad_lengths": column(self.pad_lengths, torch.long),
            }
        return self._device_tensors

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        self.last_step = max(self.last_step, step)
        raw_logprobs = torch.log_softmax(scores.float(), dim=-1)
        warped = self.warp(input_ids, scores)
        chosen = warped.argmax(dim=-1)  # the greedy rows' choice
        drawing = [row for row in self.drawing if step < self.limits[row]]
        if drawing:
            chosen[drawing] = self.draw(warped[drawing], drawing)
        ended = [row for row, limit in enumerate(self.limits) if step >= limit]
        if ended:
            chosen[ended] = self.eos_token_id
        out = torch.full_like(scores, _NEG_INF, dtype=torch.float32)
        out.scatter_(1, chosen[:, None], 0.0)
        self.step_logprobs.append(raw_logprobs.gather(1, chosen[:, None])[:, 0])  # on the device
        return out

    def draw(self, warped: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """One token per row from its warped distribution, by inverse transform sampling: the
        row's own generator gives one uniform u (on the CPU, where seeded draws are stable), and
        the token is the first whose cumulative probability exceeds u times the row's total.

        Why not ``torch.multinomial`` per row: it draws one exponential per vocabulary entry
        from the row's generator, about 1.7 ms per row per step for SmolLM2's 49,152 tokens
        (55 ms a step at 32 rows, a third of the model's own time); this is one cumulative sum
        over all rows at once and a uniform per row (6 ms at 32 rows). A token of probability 0
        is never drawn: the cumulative sum does not rise at it."""
        probs = torch.softmax(warped, dim=-1)
        uniforms = torch.cat([torch.rand(1, generator=self.generators[row]) for row in rows])
        cumulative = probs.cumsum(dim=-1)
        targets = uniforms.to(probs.device)[:, None] * cumulative[:, -1:]
        picks = torch.searchsorted(cumulative, targets, right=True)[:, 0]
        # u * total rounding up to the total would point past the end: take the last token the
        # row can draw instead.
        last = probs.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(dim=-1)
        return torch.minimum(picks, last).to(torch.long)

    def chosen_logprobs(self) -> list[list[float]]:
        """Per row, per step: the raw model log-probability of the token chosen at that step
        (one device sync for the whole generate). Steps after a row ended hold noise."""
        if not self.step_logprobs:
            return [[] for _ in self.settings]
        return torch.stack(self.step_logprobs, dim=1).cpu().tolist()

    def warp(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Each row's logits after its repetition penalty and, for a sampling row, its warpers
        (-inf = dropped); a greedy row is only penalised. Float32, a new tensor. Each step is
        transformers' processor's own computation, with per-row values in place of its one."""
        values = self._tensors(scores)
        scores = scores.float()
        vocab = scores.shape[-1]
        if values["penalty"] is not None:
            # Left padding is not "present" in the row (generate's own rule too): its positions
            # point at an extra column that is dropped after the scatter (transformers' trick
            # for ids outside the vocabulary).
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            ids = input_ids.clamp(max=vocab).masked_fill(
                positions[None, :] < values["pad_lengths"], vocab
            )
            padded = torch.nn.functional.pad(scores, (0, 1))
            seen = torch.gather(padded, 1, ids)
            penalty = values["penalty"]
            seen = torch.where(seen < 0, seen * penalty, seen / penalty)
            scores = padded.scatter(1, ids, seen)[:, :vocab]
        else:
            scores = scores.clone()
        if self.ban_ids:
            scores[:, self.ban_ids] = _NEG_INF
        if values["temperature"] is not None:
            scores = scores / values["temperature"]
        if values["top_k_max"] > 0:
            top = torch.topk(scores, values["top_k_max"]).values
            kth = top.gather(1, values["top_k_index"]).masked_fill(values["top_k_off"], _NEG_INF)
            scores = scores.masked_fill(scores < kth, _NEG_INF)
        if values["top_p_rows"] is not None:
            rows = values["top_p_rows"]
            subset = scores[rows]
            remove = _top_p_removed(subset, values["top_p_limit"])
            scores[rows] = subset.masked_fill(remove, _NEG_INF)
        return scores

    def finish_reason(self, row: int, stop_at: int | None) -> str:
        """``stop_at``: index of the row's first EOS among its new tokens (None: no EOS). A row
        is forced to EOS at the step equal to its limit, once generate reached that step."""
        forced = self.last_step >= self.limits[row] and stop_at == self.limits[row]
        if stop_at is None or forced:
            return "length"
        return "stop"


# Past this many candidates per row, top-p sorts the whole vocabulary as transformers does.
_TOP_P_CANDIDATES = 2048


def _top_p_removed(scores: torch.Tensor, limit: torch.Tensor) -> torch.Tensor:
    """The tokens ``TopPLogitsWarper`` removes, per row with its own ``limit`` (1 - top_p).

    transformers sorts the whole row (ascending), takes ``softmax(...).cumsum()`` and removes
    the sorted tokens whose cumulative probability is <= the limit, all but the last. That sort
    of the vocabulary is most of a sampling step's cost on a CPU. After top-k only a few tokens
    are finite; the rest are -inf, first in the ascending order with probability 0. So when
    every row has few finite tokens, we sort only those candidates and put them at the end of
    a -inf row: the very values transformers sorts, hence bit-identical probabilities and
    cumulative sums. Only the order of equal values can differ (the vocabulary sort is not
    stable): where equal values sit on both sides of a row's cut, which of them is removed
    depends on it, so then we sort the whole vocabulary as transformers does."""
    candidates = int(torch.isfinite(scores).sum(dim=-1).max())
    if candidates <= _TOP_P_CANDIDATES:
        indices = torch.topk(scores, max(candidates, 1)).indices
        values, order = torch.sort(scores.gather(1, indices), dim=-1)
        removed = _removed_sorted(values, scores.shape[-1], limit)
        cut = removed[:, :-1] & ~removed[:, 1:]
        if not (cut & (values[:, :-1] == values[:, 1:])).any():
            return _unsort(scores, indices.gather(1, order), removed)
    values, order = torch.sort(scores, descending=False)
    return _unsort(scores, order, _removed_sorted(values, scores.shape[-1], limit))


def _removed_sorted(values: torch.Tensor, vocab: int, limit: torch.Tensor) -> torch.Tensor:
    """``values``: the last (largest) sorted values of rows of ``vocab`` whose others are -inf."""
    sorted_logits = values
    if values.shape[-1] < vocab:
        sorted_logits = values.new_full((values.shape[0], vocab), _NEG_INF)
        sorted_logits[:, vocab - values.shape[-1] :] = values
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)[:, vocab - values.shape[-1] :]
    removed = cumulative <= limit
    removed[:, -1:] = False  # min_tokens_to_keep = 1
    return removed


def _unsort(scores: torch.Tensor, indices: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, indices, removed)
