"""Verifiable rollouts, agents side: recorded token log-probabilities, the secret positions, the
commitment, and the one-pass recompute that tells an honest rollout from a forged one.

The ``model`` tests run the real default model (CPU, float32): a batch of three rows (two
adapters that really change the output, and the bare base), sampled, a few tokens each."""

from __future__ import annotations

import hashlib
import json

import pytest

from agents.inference import AdapterRef, GenerationRequest, GenerationSettings
from agents.inference.base import file_sha256
from agents.inference.scripted import ScriptedBackend
from agents.rollout_audit import (
    HONEST_TOLERANCE,
    AuditError,
    audit_draw,
    audit_positions,
    audit_rollout,
    logprobs_commitment,
    recompute_logprobs,
)
from tests.agents.conftest import perturb_adapter

SECRET = b"audit-test-secret"
QUESTION = [{"role": "user", "content": "Name a colour of the sky."}]
OTHER_QUESTION = [
    {"role": "system", "content": "Answer in one short line."},
    {"role": "user", "content": "What is the capital of France?"},
]
SAMPLED = GenerationSettings(temperature=0.9, top_p=0.95, max_new_tokens=10)


# --- positions, draws and commitments (no model) ------------------------------------------------


def test_it_draws_the_same_distinct_positions_from_the_same_digest_and_secret():
    digest = "ab" * 32
    positions = audit_positions(digest, SECRET, 16, 100)
    assert positions == audit_positions(digest, SECRET, 16, 100)
    assert positions == sorted(set(positions)) and len(positions) == 16
    assert all(0 <= p < 100 for p in positions)
    # Whoever lacks the secret, or holds another rollout, gets other positions.
    assert audit_positions(digest, b"another secret", 16, 100) != positions
    assert audit_positions("cd" * 32, SECRET, 16, 100) != positions
    # A rollout no longer than n is checked everywhere.
    assert audit_positions(digest, SECRET, 16, 5) == [0, 1, 2, 3, 4]
    with pytest.raises(AuditError):
        audit_positions(digest, SECRET, 0, 10)


def test_it_draws_rollouts_for_audit_at_the_rate():
    draws = [audit_draw(hashlib.sha256(str(i).encode()).hexdigest(), SECRET) for i in range(4000)]
    assert all(0 <= d < 1 for d in draws)
    assert draws[7] == audit_draw(hashlib.sha256(b"7").hexdigest(), SECRET)
    share = sum(d < 0.1 for d in draws) / len(draws)
    assert 0.08 < share < 0.12


def test_the_commitment_is_the_sha256_of_the_canonical_json_anyone_can_recompute():
    ids, logprobs = [5, 17, 2], [-0.25, -1.5, -0.000123]
    by_hand = hashlib.sha256(
        json.dumps(
            {"token_ids": ids, "logprobs": logprobs},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    ).hexdigest()
    assert logprobs_commitment(ids, logprobs) == by_hand
    assert logprobs_commitment(ids, [-0.25, -1.5, -0.000124]) != by_hand


def test_recorded_logprobs_survive_a_json_round_trip_unchanged():
    from agents.inference.local.backend import stored_logprob

    # A token the model was sure of: -1e-9 rounds to -0.0, which jsonb would return as 0.0.
    values = [stored_logprob(v) for v in (-1e-9, -0.0, -1.23456789, -1e-6, -23.5)]
    assert values == [0.0, 0.0, -1.234568, -1e-06, -23.5]
    assert json.dumps(values) == "[0.0, 0.0, -1.234568, -1e-06, -23.5]"


def test_a_rollout_that_does_not_match_its_commitment_fails_before_any_model_runs():
    ids, logprobs = [5, 17, 2], [-0.25, -1.5, -0.1]
    outcome = audit_rollout(
        base_model_path="/nonexistent/model",  # never loaded: the commitment fails first
        adapter_ref=None,
        messages=QUESTION,
        token_ids=ids,
        token_logprobs=[-0.25, -1.5, -0.2],
        commitment=logprobs_commitment(ids, logprobs),
        secret=SECRET,
        positions_count=16,
        tolerance=1e-3,
    )
    assert not outcome.passed and "commitment" in outcome.detail
    short = audit_rollout(
        base_model_path="/nonexistent/model",
        adapter_ref=None,
        messages=QUESTION,
        token_ids=ids,
        token_logprobs=logprobs[:2],
        commitment=logprobs_commitment(ids, logprobs),
        secret=SECRET,
        positions_count=16,
        tolerance=1e-3,
    )
    assert not short.passed and "3 token ids but 2" in short.detail
    strings = ["-0.25", -1.5, -0.1]  # stored values edited into other JSON types
    malformed = audit_rollout(
        base_model_path="/nonexistent/model",
        adapter_ref=None,
        messages=QUESTION,
        token_ids=ids,
        token_logprobs=strings,
        commitment=logprobs_commitment(ids, strings),
        secret=SECRET,
        positions_count=16,
        tolerance=1e-3,
    )
    assert not malformed.passed and "malformed" in malformed.detail


def test_backends_without_our_model_record_no_tokens_and_recompute_none():
    from agents.inference import InferenceError

    backend = ScriptedBackend(["four"])
    result = backend.generate([GenerationRequest(messages=QUESTION)])[0]
    assert result.token_ids is None and result.token_logprobs is None
    assert not result.auditable
    with pytest.raises(InferenceError, match="scripted backend cannot recompute"):
        backend.recompute(messages=QUESTION, token_ids=[1], positions=[0])


# --- with the real default model ----------------------------------------------------------------


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, model_dir):
    """Two adapters that really change the model's output (random LoRA B)."""
    from agents.adapters import init_adapter

    root = tmp_path_factory.mktemp("audit-adapters")
    refs = []
    for seed in (1, 2):
        init_adapter(
            base_model_path=str(model_dir),
            rank=8,
            alpha=16,
            dropout=0.0,
            target_modules=["q_proj", "v_proj"],
            seed=seed,
            out_dir=root / f"fresh{seed}",
        )
        out = perturb_adapter(root / f"fresh{seed}", root / f"adapter{seed}", seed=seed, scale=0.3)
        refs.append(
            AdapterRef(path=str(out), sha256=file_sha256(out / "adapter_model.safetensors"))
        )
    return refs


@pytest.fixture(scope="module")
def batch(adapters):
    """One batched, mixed-adapter, sampled generate: rows with different prompt lengths (so
    left padding) and different adapters, as a match runs them."""
    from agents.inference.local import LocalBackend

    one, two = adapters
    requests = [
        GenerationRequest(messages=QUESTION, adapter=one, settings=SAMPLED, seed=3),
        GenerationRequest(messages=OTHER_QUESTION, settings=SAMPLED, seed=4),
        GenerationRequest(messages=QUESTION, adapter=two, settings=SAMPLED, seed=5),
    ]
    return requests, LocalBackend().generate(requests)


def _audit(request, result, *, adapter, token_ids=None, token_logprobs=None):
    token_ids = result.token_ids if token_ids is None else token_ids
    token_logprobs = result.token_logprobs if token_logprobs is None else token_logprobs
    return audit_rollout(
        base_model_path=None,
        adapter_ref=adapter,
        messages=request.messages,
        token_ids=token_ids,
        token_logprobs=token_logprobs,
        commitment=logprobs_commitment(token_ids, token_logprobs),
        secret=SECRET,
        positions_count=16,  # > max_new_tokens: every position is checked
    )  # the tolerance measured for the dtype the model runs in (float32 on CPU: 1e-3)


@pytest.mark.model
def test_the_local_backend_records_each_sampled_tokens_raw_logprob(batch):
    requests, results = batch
    for request, result in zip(requests, results, strict=True):
        assert result.auditable
        extra = 1 if result.finish_reason == "stop" else 0  # the model's own EOS is recorded
        assert (
            len(result.token_ids) == len(result.token_logprobs) == result.completion_tokens + extra
        )
        assert all(lp <= 0 for lp in result.token_logprobs)
        # The same numbers come back from one unpadded forward pass, at every position.
        again = recompute_logprobs(
            None,
            request.adapter,
            request.messages,
            result.token_ids,
            list(range(len(result.token_ids))),
        )
        assert max(abs(a - b) for a, b in zip(again, result.token_logprobs, strict=True)) < 1e-3


@pytest.mark.model
def test_an_honest_rollout_passes(batch):
    requests, results = batch
    for request, result in zip(requests, results, strict=True):
        outcome = _audit(request, result, adapter=request.adapter)
        assert outcome.passed, outcome.detail
        assert outcome.tolerance == HONEST_TOLERANCE[outcome.dtype]  # float32 on CPU: 1e-3
        assert outcome.positions == list(range(len(result.token_ids)))
        assert outcome.text == result.text


@pytest.mark.model
def test_a_rollout_made_by_another_adapter_is_flagged(batch, adapters):
    requests, results = batch
    # Row 2 was generated with adapter two; declared as adapter one, or as the bare base.
    for declared in (adapters[0], None):
        outcome = _audit(requests[2], results[2], adapter=declared)
        assert not outcome.passed
        assert "beyond the tolerance" in outcome.detail and outcome.max_abs_diff > 0.1


@pytest.mark.model
def test_an_edited_rollout_is_flagged(batch):
    requests, results = batch
    request, result = requests[0], results[0]
    # Replace the first token (and so the context of all later ones), keep the recorded values,
    # and commit again as a forger would: the recompute disagrees.
    edited = list(result.token_ids)
    edited[0] = 9906 if edited[0] != 9906 else 9907
    outcome = _audit(request, result, adapter=request.adapter, token_ids=edited)
    assert not outcome.passed and "beyond the tolerance" in outcome.detail
    # Edited at the last position only: that one position gives it away.
    edited = list(result.token_ids)
    edited[-1] = 9906 if edited[-1] != 9906 else 9907
    outcome = _audit(request, result, adapter=request.adapter, token_ids=edited)
    assert not outcome.passed
    assert f"at token {len(edited) - 1} " in outcome.detail


@pytest.mark.model
def test_the_recompute_refuses_tokens_outside_the_vocabulary(batch):
    from agents.inference import InferenceError

    requests, _ = batch
    with pytest.raises(InferenceError, match="token_ids"):
        recompute_logprobs(None, None, requests[1].messages, [10**9], [0])
    with pytest.raises(InferenceError, match="positions"):
        recompute_logprobs(None, None, requests[1].messages, [5, 6], [2])
