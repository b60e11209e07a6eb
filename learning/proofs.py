"""Proof-of-learning records: one per successful training job, in the ledger's record chain
``proof-of-learning``, committing to everything a stranger needs to check that the update came
from the matches it names (``verify_pol``).

A record's payload (canonical JSON, hashed with the previous record's hash by the chain):

- ``job``, ``agent``; ``base_model``: its name and the sha256 of its files (the canonical JSON of
  {file name: file sha256}); ``parent_adapter_sha256`` (null: a fresh adapter);
- ``pairs``: the preference pairs' ids in the job's order, the Merkle root of their content
  hashes (``preferences.provenance.merkle_root``), and the Merkle root of their evidence: per
  pair, the sha256 of the canonical JSON of its content hash, the two seats it was made of (id,
  agent, adapter, text) and every verdict of its match (id, kind, data). The content hash names
  the match, rollouts and verdicts; the evidence root also pins what they said, so an edited
  verdict or rollout is caught;
- ``data_order``: the pair positions in the order training saw them;
- ``hyperparameters`` (the settings, seed and the trainer's fixed choices), ``library_versions``,
  ``quantization``;
- ``checkpoints``: the sha256 of the adapter-and-optimizer checkpoint every k steps;
- ``adapter_sha256``: the final adapter's; ``metrics``: the last step's.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from agents.models import TrainingJob
from agents.training import checkpoint_sha256
from arena.services import dispatch
from learning.models import TrainingProof
from ledger.canonical import canonical_json, sha256_hex
from ledger.records import record_append
from preferences.models import PreferencePair
from preferences.provenance import merkle_root

CHAIN = "proof-of-learning"
RECORD_KIND = "training-job"
PAYLOAD_VERSION = 1
GATE_TASK = "learning.judge_gate"  # "*.judge_*": the judge queue


@lru_cache(maxsize=8)
def _directory_sha256(path: str, stamp: tuple) -> str:
    return checkpoint_sha256(Path(path))


def base_model_sha256(path: str) -> str:
    """The sha256 of a model directory's files (cached while no file changes)."""
    directory = Path(path)
    stamp = tuple(
        sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir())
    )
    return _directory_sha256(str(directory), stamp)


def pair_evidence(pair: PreferencePair) -> str:
    """The sha256 of what a pair was made from, as the database holds it now."""
    seats = [pair.chosen_seat, pair.rejected_seat]
    verdicts = pair.match.verdicts.order_by("pk").values_list("pk", "judge_kind", "data")
    return sha256_hex(
        canonical_json(
            {
                "pair": pair.content_sha256,
                "seats": [
                    {
                        "id": seat.pk,
                        "agent": seat.agent_id,
                        "adapter_sha256": seat.adapter_sha256,
                        "text": seat.text,
                    }
                    for seat in seats
                ],
                "verdicts": [
                    {"id": pk, "judge_kind": kind, "data": data} for pk, kind, data in verdicts
                ],
            }
        )
    )


def evidence_pairs(pair_ids: list[int]) -> dict[int, PreferencePair]:
    """The pairs still there, by id, with what their evidence reads."""
    return PreferencePair.objects.select_related("chosen_seat", "rejected_seat", "match").in_bulk(
        pair_ids
    )


def evidence_root(pair_ids: list[int], pairs: dict[int, PreferencePair]) -> str:
    """The Merkle root of the evidence of ``pair_ids`` (in order) that ``pairs`` holds."""
    return merkle_root([pair_evidence(pairs[pk]) for pk in pair_ids if pk in pairs])


def proof_payload(job: TrainingJob) -> dict[str, Any]:
    examples = list(job.examples.order_by("position").values_list("pair_id", "content_sha256"))
    ids = [pair_id for pair_id, _ in examples]
    base = job.agent.base_model
    return {
        "version": PAYLOAD_VERSION,
        "job": job.pk,
        "agent": job.agent_id,
        "base_model": {"name": base.name, "sha256": base_model_sha256(base.path)},
        "parent_adapter_sha256": job.parent.sha256 if job.parent_id else None,
        "pairs": {
            "ids": ids,
            "merkle_root": merkle_root([digest for _, digest in examples]),
            "evidence_root": evidence_root(ids, evidence_pairs(ids)),
        },
        "data_order": job.data_order,
        "hyperparameters": job.hyperparameters,
        "library_versions": job.library_versions,
        "quantization": job.quantization,
        "checkpoints": [{"step": c["step"], "sha256": c["sha256"]} for c in job.checkpoints],
        "adapter_sha256": job.result.sha256,
        "metrics": job.final_metrics,
    }


def on_training_succeeded(job: TrainingJob) -> None:
    """``agents.hooks`` callback, inside the transaction that stores the job's adapter: the
    record exists exactly when the version does; the promotion gate is queued on commit."""
    record = record_append(chain=CHAIN, kind=RECORD_KIND, payload=proof_payload(job))
    TrainingProof.objects.create(job=job, record=record)
    if job.space_id is not None:
        dispatch.enqueue(GATE_TASK, job.pk)
