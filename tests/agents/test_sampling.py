"""The per-row sampler on made-up logits (no model)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import torch
from scipy.stats import chisquare
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


def _transformers_warpers(settings):
    """transformers' processors for one row, as ``generate`` builds them for that row alone:
    the penalty unless it is 1; for a sampling row temperature, top-k and top-p, each left out
    when off (1, 0, 1); a greedy row gets no warper."""
    chain = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        chain.append(RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty)))
    if settings.greedy:
        return chain
    if settings.temperature != 1.0:
        chain.append(TemperatureLogitsWarper(float(settings.temperature)))
    if settings.top_k != 0:
        chain.append(TopKLogitsWarper(int(settings.top_k)))
    if settings.top_p < 1.0:
        chain.append(TopPLogitsWarper(float(settings.top_p)))
    return chain


def _row_by_row(settings, input_ids, scores, pad_lengths):
    """Each row alone through transformers' processors (left padding cut off the row)."""
    return [
        _transformers_warpers(row_settings)(
            input_ids[row : row + 1, pad_lengths[row] :], scores[row : row + 1].clone()
        )[0]
        for row, row_settings in enumerate(settings)
    ]


def _assert_same_as_transformers(sampler, settings, input_ids, scores, pad_lengths):
    warped = sampler.warp(input_ids, scores)
    for row, expected in enumerate(_row_by_row(settings, input_ids, scores, pad_lengths)):
        # Bit for bit: same kept tokens (-inf elsewhere), same values.
        assert torch.equal(warped[row], expected), f"row {row} ({settings[row]}) differs"


GRID = [
    GenerationSettings(temperature=t, top_k=k, top_p=p, repetition_penalty=r)
    for t, k, p, r in itertools.product(
        [0.0, 0.3, 1.0, 1.7], [0, 1, 5, 40, 100], [0.2, 0.9, 1.0], [1.0, 1.4]
    )
]


def _batch(generator, vocab, length, rows, *, ties: bool):
    pad_lengths = [row % 4 for row in range(rows)]
    input_ids = torch.randint(1, vocab, (rows, length), generator=generator)
    for row, pad in enumerate(pad_lengths):
        input_ids[row, :pad] = EOS  # left padding: not part of the row
    scores = torch.randn(rows, vocab, generator=generator) * 3
    if ties:
        # Few distinct values: many tokens tie at the top-k and top-p boundaries.
        scores = scores.round()
    return input_ids, scores, pad_lengths


def test_it_warps_each_row_exactly_like_transformers():
    generator = torch.Generator().manual_seed(0)
    vocab, length = 64, 9
    for ties in (False, True):
        input_ids, _, pad_lengths = _batch(generator, vocab, length, len(GRID), ties=ties)
        sampler = PerRowSampler(
            settings=GRID,
            seeds=list(range(len(GRID))),
            prompt_length=length,
            pad_lengths=pad_lengths,
            eos_token_id=EOS,
        )
        for _ in range(5):
            _, scores, _ = _batch(generator, vocab, length, len(GRID), ties=ties)
            _assert_same_as_transformers(sampler, GRID, input_ids, scores, pad_lengths)


def test_top_p_after_top_k_sorts_few_candidates_and_still_matches_transformers():
    # Every top-p row also has a top-k: top-p only sorts the tokens top-k kept, not the
    # vocabulary; with ties (rounded logits) equal values may sit at a row's cut.
    settings = [
        GenerationSettings(temperature=t, top_k=k, top_p=p)
        for t, k, p in itertools.product([0.0, 0.3, 1.0], [1, 5, 40], [0.2, 0.5, 0.9])
    ]
    generator = torch.Generator().manual_seed(2)
    vocab, length = 300, 5
    for ties in (False, True):
        input_ids, _, pad_lengths = _batch(generator, vocab, length, len(settings), ties=ties)
        sampler = PerRowSampler(
            settings=settings,
            seeds=list(range(len(settings))),
            prompt_length=length,
            pad_lengths=pad_lengths,
            eos_token_id=EOS,
        )
        for _ in range(5):
            _, scores, _ = _batch(generator, vocab, length, len(settings), ties=ties)
            _assert_same_as_transformers(sampler, settings, input_ids, scores, pad_lengths)


def test_rows_with_every_setting_off_are_left_alone():
    settings = [GenerationSettings(temperature=1.0), GenerationSettings(temperature=0.0)]
    sampler = _sampler(settings)
    scores = torch.randn(2, 30, generator=torch.Generator().manual_seed(3))
    assert torch.equal(sampler.warp(torch.tensor([[1, 2]] * 2), scores), scores)


def _inverse_transform(probs: list[float], u: float) -> int:
    """The first token whose cumulative probability passes ``u`` times the total."""
    target, running = u * sum(probs), 0.0
    for token, p in enumerate(probs):
        running += p
        if p > 0 and running > target:
            return token
    return max(token for token, p in enumerate(probs) if p > 0)


def test_it_draws_from_transformers_warped_distribution_with_the_rows_own_uniforms():
    """A sampling row's token is the inverse transform of transformers' warped distribution at
    one uniform per step from a generator seeded with the row's seed; a greedy row's is the
    argmax of its penalised logits."""
    generator = torch.Generator().manual_seed(5)
    vocab, length = 64, 6
    settings = GRID[::3]
    seeds = [1000 + row for row in range(len(settings))]
    input_ids, _, pad_lengths = _batch(generator, vocab, length, len(settings), ties=False)
    sampler = PerRowSampler(
        settings=[replace(s, max_new_tokens=50) for s in settings],
        seeds=seeds,
        prompt_length=length,
        pad_lengths=pad_lengths,
        eos_token_id=EOS,
    )
    references = [torch.Generator().manual_seed(seed) for seed in seeds]
    for _ in range(4):
        _, scores, _ = _batch(generator, vocab, length, len(settings), ties=False)
        expected = []
        for row, warped in enumerate(_row_by_row(settings, input_ids, scores, pad_lengths)):
            if settings[row].greedy:
                expected.append(int(warped.argmax()))
                continue
            probs = torch.softmax(warped, dim=-1).tolist()
            u = float(torch.rand(1, generator=references[row]))
            expected.append(_inverse_transform(probs, u))
        chosen = _step(sampler, input_ids, scores)
        assert chosen == expected
        input_ids = torch.cat([input_ids, torch.tensor(chosen)[:, None]], dim=1)


def test_its_draws_follow_the_warped_distribution():
    """Over many steps a row's tokens come up as often as their warped probabilities say
    (chi-squared test; fixed seed, so the test is deterministic)."""
    scores = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -9.0]])
    settings = GenerationSettings(temperature=0.8, top_k=5, max_new_tokens=1024)
    sampler = _sampler([settings], seeds=[42])
    ids = torch.tensor([[1, 1]])  # the step stays 0: generate's limit is never reached
    counts = torch.zeros(6)
    for _ in range(4000):
        counts[_step(sampler, ids, scores)[0]] += 1
    probs = torch.softmax(TopKLogitsWarper(5)(ids, TemperatureLogitsWarper(0.8)(ids, scores)), -1)
    assert counts[5] == 0  # outside the top 5: never drawn
    result = chisquare(counts[:5].numpy(), (probs[0, :5] * 4000).numpy())
    assert result.pvalue > 0.001, (counts, probs)


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
