"""The per-row sampler on made-up logits (no model)."""

from __future__ import annotations

import torch

from agents.inference import GenerationSettings
from agents.inference.local.sampling import PerRowSampler

EOS = 0


def _sampler(settings, seeds=None):
    return PerRowSampler(
        settings=settings,
        seeds=seeds or list(range(len(settings))),
        prompt_length=2,
        pad_lengths=[0] * len(settings),
        eos_token_id=EOS,
    )


def _step(sampler, input_ids, scores):
    return torch.argmax(sampler(input_ids, scores), dim=-1).tolist()


def test_it_applies_each_rows_own_settings():
    scores = torch.tensor([[0.0, 1.0, 3.0, 2.0]] * 2)
    sampler = _sampler(
        [
            GenerationSettings(temperature=0.0, max_new_tokens=5),
            GenerationSettings(temperature=1.0, top_k=1, max_new_tokens=5),
        ]
    )
    assert _step(sampler, torch.tensor([[1, 1]] * 2), scores) == [2, 2]
    penalised = _sampler([GenerationSettings(temperature=0.0, repetition_penalty=2.0)])
    # Token 2 is already in the sequence: 3.0 / 2 = 1.5 < 2.0, so token 3 wins.
    assert _step(penalised, torch.tensor([[2, 1]]), scores[:1]) == [3]


def test_it_draws_each_row_from_its_own_seed():
    scores = torch.zeros(1, 50)
    hot = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=50)
    alone = _sampler([hot], seeds=[7])
    in_batch = _sampler([GenerationSettings(temperature=1.0), hot], seeds=[99, 7])
    ids = torch.tensor([[1, 1]])
    first = [_step(alone, ids, scores)[0] for _ in range(10)]
    second = [_step(in_batch, ids.repeat(2, 1), scores.repeat(2, 1))[1] for _ in range(10)]
    assert first == second and len(set(first)) > 1


def test_it_forces_eos_at_a_rows_limit_and_tells_it_from_a_natural_stop():
    sampler = _sampler(
        [
            GenerationSettings(temperature=0.0, max_new_tokens=1),
            GenerationSettings(temperature=0.0, max_new_tokens=3),
        ]
    )
    scores = torch.tensor([[0.0, 5.0, 0.0]] * 2)
    assert _step(sampler, torch.tensor([[1, 1]] * 2), scores) == [1, 1]
    assert _step(sampler, torch.tensor([[1, 1, 1]] * 2), scores) == [EOS, 1]
    assert sampler.finish_reason(0, stop_at=1) == "length"
    # Row 1 ended by itself at step 1 (say); generate still calls us, and at step 3 we "force"
    # it again: that must not turn its own stop into "length".
    sampler(torch.tensor([[1, 1, 1, 1, 1]] * 2), scores)
    assert sampler.finish_reason(1, stop_at=1) == "stop"
    assert sampler.finish_reason(1, stop_at=None) == "length"
