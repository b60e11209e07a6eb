"""Verifiable rollouts: check that a rollout's tokens came from the adapter it names.

At rollout the local backend records, per seat, the sampled token ids and each token's
log-probability under the raw model distribution with the seat's adapter (``GenerationResult``),
and the seat stores them with a commitment (``logprobs_commitment``). Later an audit takes the
declared base model and adapter, re-computes the log-probabilities at a few positions in one
teacher-forced forward pass (``recompute_logprobs``) and compares: an honest rollout differs only
by float noise (batched, KV-cached, left-padded decoding vs one unpadded pass), a rollout whose
tokens came from another adapter, or were edited, differs by far more.

Which positions: ``audit_positions`` draws them from an HMAC of the rollout's commitment under a
server secret, so whoever produced the rollout cannot know in advance which tokens will be
checked; anyone holding the secret can re-derive them. ``audit_draw`` decides the same way
whether a rollout is audited at all (the operator's sampling rate).

What it proves and what not: the recorded log-probabilities are the model's, under the declared
adapter, for these tokens in this context; a worker that served another adapter, or text edited
after generation, is caught. It does not prove the tokens were drawn with the declared sampling
settings and seed: a forger who recomputes honest log-probabilities for text of its choosing
passes (that would need a replay of the sampler, which is sequential).

No database here: the arena app (``arena.services.rollout_audit``) reads seats and stores
outcomes. The recompute goes through the local backend (``InferenceBackend.recompute``, looked up
by name like every backend, so importing this module loads no torch).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from agents.inference.base import AdapterRef, Recomputed, get_backend
from ledger.canonical import canonical_json, sha256_hex

# The largest |recorded - recomputed| log-probability (nats) an honest rollout shows, by the
# dtype the model runs in (``agents.inference.local.cache.device_and_dtype``), with a margin.
# Measured on SmolLM2-135M-Instruct (transformers 5.24, torch 2.13, CPU): 4
# batches of 4 rows each (two perturbed adapters and the bare base mixed in one generate, prompts
# of different lengths so rows are left-padded, greedy and sampled rows with top-k / top-p /
# repetition penalty, up to 64 new tokens), every sampled position compared with one unpadded
# teacher-forced pass:
#   float32 (CPU), 832 positions: max 2.2e-5, p99 1.6e-5, mean 3.8e-6  -> 1e-3 (45x margin)
#   bfloat16 (CPU kernels standing in for a GPU's; none was available), 722 positions:
#                                 max 0.47, p99 0.22, mean 0.057       -> 1.0  (2.1x margin)
#   float16: not measured; more mantissa bits than bfloat16, so bfloat16's bound is safe.
# The same rollouts declared under the other adapter (LoRA B ~ N(0, 0.3^2)) differ by 2.5 to 11
# nats at their worst position; at 32 positions drawn from 64, the worst exceeds 1.0 in 99.99% of
# draws (16 positions: 99.3%). Adapters closer than the numeric noise (e.g. a version and its
# parent after a few DPO steps, in bfloat16) cannot be told apart: the limit of any tolerance.
# Measure again on new hardware or kernels; ARENA_ROLLOUT_AUDIT_TOLERANCE overrides.
HONEST_TOLERANCE = {"float32": 1e-3, "bfloat16": 1.0, "float16": 1.0}


class AuditError(ValueError):
    """A rollout that cannot be audited as given (bad shapes, no tokens): says why."""


def logprobs_commitment(token_ids: list[int], token_logprobs: list[float]) -> str:
    """sha256 of the canonical JSON ``{"logprobs": [...], "token_ids": [...]}``: what a seat
    stores as ``logprobs_sha256`` at rollout, and what audit positions are drawn from."""
    return sha256_hex(canonical_json({"token_ids": token_ids, "logprobs": token_logprobs}))


def _mac(secret: str | bytes, message: str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def audit_draw(rollout_digest: str, secret: str | bytes) -> float:
    """A number in [0, 1) fixed by the rollout's commitment and the secret: a rollout is
    audited when it is below the operator's rate (so the choice is repeatable by whoever holds
    the secret, and unpredictable to whoever does not)."""
    return int.from_bytes(_mac(secret, f"draw|{rollout_digest}")[:8], "big") / 2**64


def audit_positions(rollout_digest: str, secret: str | bytes, n: int, length: int) -> list[int]:
    """``min(n, length)`` distinct positions in ``range(length)``, sorted, drawn from
    HMAC-SHA256(secret, "positions|<digest>|<counter>") for counter 0, 1, ... (each MAC read
    as a big-endian integer modulo ``length``; repeats skipped). Deterministic."""
    if n < 1 or length < 1:
        raise AuditError(f"need n >= 1 and length >= 1 (got n={n}, length={length})")
    wanted = min(n, length)
    if wanted == length:
        return list(range(length))
    chosen: set[int] = set()
    counter = 0
    while len(chosen) < wanted:
        mac = _mac(secret, f"positions|{rollout_digest}|{counter}")
        chosen.add(int.from_bytes(mac, "big") % length)
        counter += 1
    return sorted(chosen)


# Only the local backend records token log-probabilities, so only it can be audited.
AUDIT_BACKEND = "local"


def recompute_logprobs(
    base_model_path: str | None,
    adapter_ref: AdapterRef | None,
    messages: list[dict],
    token_ids: list[int],
    positions: list[int],
) -> list[float]:
    """The raw log-probability of ``token_ids[p]`` at each of ``positions`` under the base model
    with the adapter (verified against its sha256 on load), in one forward pass over the prompt
    (same chat template as inference) and the tokens, teacher-forced."""
    return _recompute(base_model_path, adapter_ref, messages, token_ids, positions).logprobs


def _recompute(base_model_path, adapter_ref, messages, token_ids, positions) -> Recomputed:
    return get_backend(AUDIT_BACKEND).recompute(
        messages=messages,
        token_ids=token_ids,
        positions=positions,
        adapter=adapter_ref,
        base_model=base_model_path,
    )


def honest_tolerance(dtype: str) -> float:
    """The measured honest-rerun tolerance for a model computing in ``dtype``."""
    if dtype not in HONEST_TOLERANCE:
        raise AuditError(f"no measured audit tolerance for {dtype}; set one")
    return HONEST_TOLERANCE[dtype]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class RolloutAudit:
    passed: bool
    detail: str
    positions: list[int]
    max_abs_diff: float | None  # None when the values were not compared
    text: str = ""  # the answer the tokens decode to ("" when not decoded)
    tolerance: float | None = None
    dtype: str = ""  # the numeric format of the recompute

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "detail": self.detail,
            "positions": self.positions,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "dtype": self.dtype,
        }


def audit_rollout(
    *,
    base_model_path: str | None,
    adapter_ref: AdapterRef | None,
    messages: list[dict],
    token_ids: list[int],
    token_logprobs: list[float],
    commitment: str,
    secret: str | bytes,
    positions_count: int,
    tolerance: float | None = None,
) -> RolloutAudit:
    """Check one rollout: its commitment, then its recorded log-probabilities at the secret
    positions against a recompute, within ``tolerance`` nats (None: the honest-rerun tolerance
    measured for the dtype the recompute runs in). A failure is an outcome (``passed=False``
    with the reason); ``InferenceError`` (e.g. the adapter's file no longer matches its sha256)
    propagates."""
    if not isinstance(token_ids, list) or not isinstance(token_logprobs, list) or not token_ids:
        raise AuditError("a rollout audit needs the recorded token ids and log-probabilities")
    if len(token_ids) != len(token_logprobs):
        return RolloutAudit(
            False,
            f"{len(token_ids)} token ids but {len(token_logprobs)} log-probabilities",
            [],
            None,
        )
    if not all(_is_int(t) for t in token_ids) or not all(
        _is_number(v) and math.isfinite(v) for v in token_logprobs
    ):
        return RolloutAudit(
            False, "the recorded token ids or log-probabilities are malformed", [], None
        )
    actual = logprobs_commitment(token_ids, token_logprobs)
    if not hmac.compare_digest(actual, commitment):
        return RolloutAudit(
            False,
            "the recorded tokens and log-probabilities do not match their commitment "
            f"(sha256 {actual[:12]}, committed {commitment[:12]})",
            [],
            None,
        )
    positions = audit_positions(commitment, secret, positions_count, len(token_ids))
    again = _recompute(base_model_path, adapter_ref, messages, token_ids, positions)
    if tolerance is None:
        tolerance = honest_tolerance(again.dtype)
    diffs = [abs(token_logprobs[p] - v) for p, v in zip(positions, again.logprobs, strict=True)]
    worst = max(range(len(diffs)), key=lambda i: diffs[i])
    max_diff = diffs[worst]
    measured = {"text": again.text, "tolerance": tolerance, "dtype": again.dtype}
    if not math.isfinite(max_diff) or max_diff > tolerance:
        detail = (
            f"log-probability at token {positions[worst]} recorded "
            f"{token_logprobs[positions[worst]]:.4f}, recomputed {again.logprobs[worst]:.4f}: "
            f"differs by {max_diff:.4g} nats, beyond the tolerance {tolerance:g}"
        )
        return RolloutAudit(False, detail, positions, max_diff, **measured)
    detail = f"{len(positions)} positions within {max_diff:.3g} nats (tolerance {tolerance:g})"
    return RolloutAudit(True, detail, positions, max_diff, **measured)
