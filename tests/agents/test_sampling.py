"""The per-row sampler on made-up logits (no model)."""

from __future__ import annotations

import itertools

import torch
from transformers import LogitsProcessorList
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

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


def _transformers_reference(settings, row_ids, row_scores):
    """One row through transformers' own processors, all four of them always (the "off" values
    are identities: temperature 1, top_k = vocab, top_p 1), as ``generate`` would warp it."""
    vocab = row_scores.shape[-1]
    chain = LogitsProcessorList(
        [
            RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty)),
            TemperatureLogitsWarper(float(settings.temperature)),
            TopKLogitsWarper(settings.top_k or vocab),
            TopPLogitsWarper(float(settings.top_p)),
        ]
    )
    return chain(row_ids, row_scores.clone())[0]


def _assert_same_as_transformers(sampler, settings, input_ids, scores, pad_lengths):
    warped = sampler.warp(input_ids, scores)
    for row, row_settings in enumerate(settings):
        expected = _transformers_reference(
            row_settings, input_ids[row : row + 1, pad_lengths[row] :], scores[row : row + 1]
        )
        kept, expected_kept = torch.isfinite(warped[row]), torch.isfinite(expected)
        assert torch.equal(kept, expected_kept), f"row {row} ({row_settings}) keeps other tokens"
        torch.testing.assert_close(
            torch.softmax(warped[row], dim=-1), torch.softmax(expected, dim=-1)
        )


def test_it_warps_each_row_exactly_like_transformers():
    grid = [
        GenerationSettings(temperature=t, top_k=k, top_p=p, repetition_penalty=r)
        for t, k, p, r in itertools.product(
            [0.3, 1.0, 1.7], [0, 1, 5, 40], [0.2, 0.9, 1.0], [1.0, 1.4]
        )
    ]
    generator = torch.Generator().manual_seed(0)
    vocab, length = 64, 9
    pad_lengths = [row % 4 for row in range(len(grid))]
    input_ids = torch.randint(1, vocab, (len(grid), length), generator=generator)
    for row, pad in enumerate(pad_lengths):
        input_ids[row, :pad] = EOS  # left padding: not part of the row
    sampler = PerRowSampler(
        settings=grid,
        seeds=list(range(len(grid))),
        prompt_length=length,
        pad_lengths=pad_lengths,
        eos_token_id=EOS,
    )
    for _ in range(5):
        scores = torch.randn(len(grid), vocab, generator=generator) * 3
        _assert_same_as_transformers(sampler, grid, input_ids, scores, pad_lengths)


def test_top_p_drops_the_token_after_the_mass_that_equals_top_p():
    # Probabilities 1/2, 1/4, 1/8, 1/16, 1/16 are exact in float32: the first two hold exactly
    # 0.75, the first three exactly 0.875. transformers keeps the smallest set reaching top_p,
    # so no token past that mass (a rule that keeps the token after it would keep one more).
    scores = torch.tensor([[0.5, 0.25, 0.125, 0.0625, 0.0625]]).log().repeat(2, 1)
    settings = [
        GenerationSettings(temperature=1.0, top_p=0.75),
        GenerationSettings(temperature=1.0, top_p=0.875),
    ]
    sampler = _sampler(settings)
    input_ids = torch.tensor([[1, 1]] * 2)
    kept = torch.isfinite(sampler.warp(input_ids, scores)).sum(dim=-1).tolist()
    assert kept == [2, 3]
    _assert_same_as_transformers(sampler, settings, input_ids, scores, [0, 0])


def test_it_draws_only_tokens_the_warpers_keep():
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(1, 100, generator=generator)
    top3 = set(torch.topk(scores[0], 3).indices.tolist())
    sampler = _sampler([GenerationSettings(temperature=2.0, top_k=3, max_new_tokens=100)])
    drawn = {_step(sampler, torch.tensor([[1, 1]]), scores)[0] for _ in range(60)}
    assert drawn <= top3 and len(drawn) > 1
