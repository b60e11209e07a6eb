"""Checking proof-of-learning records (``manage.py verify_pol``).

For every record of the ``proof-of-learning`` chain (or one):

- the chain: every record's hash over its content, its link to the previous record, no gap or
  reordering (``ledger.records.chain_verify``), and each anchor against its transaction on the
  EVM chain (``anchor_verify``);
- the pairs: every pair still there and matching its content hash, the Merkle root of their
  content hashes and of their evidence (seats and verdicts as the database holds them) equal to
  the record's, every pair made of a settled match whose seats say what the pair says;
- the files: the adapter the record names, and every checkpoint, hash as recorded; the job's
  stored settings equal to the record's hyperparameters;
- with ``replay``: Q training segments re-executed from their checkpoints (the segments whose
  updates were largest, plus one drawn at random from the record's hash), each compared with the
  next checkpoint within ``ARENA_POL_REPLAY_TOLERANCE`` (Jia et al., IEEE S&P 2021).

Each problem names the record (its seq) and exactly what failed.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from agents.inference.base import ADAPTER_WEIGHTS, file_sha256
from agents.models import TrainingJob
from agents.training import (
    TrainSettings,
    adapter_distance,
    checkpoint_sha256,
    choose_precision,
    replay_segment,
)
from agents.training_jobs import job_pairs
from learning.proofs import CHAIN, evidence_pairs, evidence_root
from ledger.models import ChainAnchor, ChainRecord
from ledger.records import anchor_verify, chain_verify
from preferences.provenance import merkle_root


@dataclass
class RecordCheck:
    seq: int
    job: int | None
    problems: list[str] = field(default_factory=list)
    replayed: list[dict] = field(default_factory=list)  # {segment: [a, b], distance}

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Verification:
    records: list[RecordCheck]
    chain_problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.chain_problems and all(r.ok for r in self.records)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "chain_problems": self.chain_problems,
            "records": [
                {
                    "seq": r.seq,
                    "job": r.job,
                    "ok": r.ok,
                    "problems": r.problems,
                    "replayed": r.replayed,
                }
                for r in self.records
            ],
        }


def verify_chain() -> list[str]:
    problems = [f"record {p.seq}: {p.detail}" for p in chain_verify(chain=CHAIN)]
    for anchor in ChainAnchor.objects.filter(chain=CHAIN).order_by("up_to_seq"):
        problems += [f"anchor up to record {anchor.up_to_seq}: {p}" for p in anchor_verify(anchor)]
    return problems


def _check_pairs(payload: dict, check: RecordCheck) -> None:
    ids = payload["pairs"]["ids"]
    pairs = evidence_pairs(ids)
    for pk in ids:
        pair = pairs.get(pk)
        if pair is None:
            check.problems.append(f"pair #{pk} is gone")
            continue
        if not pair.verify():
            check.problems.append(f"pair #{pk} does not match its content hash (edited)")
        if pair.match.status != "settled":
            check.problems.append(f"pair #{pk}: match #{pair.match_id} is not a settled match")
        if (pair.chosen_seat.text, pair.rejected_seat.text) != (
            pair.chosen_text,
            pair.rejected_text,
        ):
            check.problems.append(f"pair #{pk}: its texts are not what match's seats answered")
        judged = set(pair.match.verdicts.values_list("pk", flat=True))
        if not pair.verdict_ids or not set(pair.verdict_ids) <= judged:
            check.problems.append(f"pair #{pk}: its verdicts are not verdicts of its match")
    if len(pairs) < len(ids):
        return  # the roots cannot be recomputed; the missing pairs are named above
    content = merkle_root([pairs[pk].content_sha256 for pk in ids])
    if content != payload["pairs"]["merkle_root"]:
        check.problems.append("the pairs' Merkle root differs from the record's")
    if evidence_root(ids, pairs) != payload["pairs"]["evidence_root"]:
        check.problems.append(
            "the pairs' evidence root differs from the record's: a seat or verdict was edited"
        )


def _check_files(job: TrainingJob, payload: dict, check: RecordCheck) -> None:
    version = job.result
    if version is None or version.sha256 != payload["adapter_sha256"]:
        check.problems.append("the job's adapter version is not the one the record names")
    if version is not None:
        weights = version.directory / ADAPTER_WEIGHTS
        if not weights.exists():
            check.problems.append(f"the adapter file {weights.name} of v{version.number} is gone")
        elif file_sha256(weights) != payload["adapter_sha256"]:
            check.problems.append(
                f"the adapter file of v{version.number} does not hash to the recorded sha256 "
                "(swapped or edited)"
            )
    recorded = {c["step"]: c["sha256"] for c in payload["checkpoints"]}
    for stored in job.checkpoints:
        directory = _checkpoint_dir(stored)
        if not directory.is_dir():
            check.problems.append(f"the checkpoint of step {stored['step']} is gone")
        elif checkpoint_sha256(directory) != recorded.get(stored["step"]):
            check.problems.append(
                f"the checkpoint of step {stored['step']} does not hash to the recorded sha256"
            )
    if set(recorded) != {c["step"] for c in job.checkpoints}:
        check.problems.append("the job's checkpoints are not the ones the record lists")
    if job.hyperparameters != payload["hyperparameters"]:
        check.problems.append("the job's hyperparameters differ from the record's (edited)")
    if job.data_order != payload["data_order"]:
        check.problems.append("the job's data order differs from the record's (edited)")


def _checkpoint_dir(stored: dict) -> Path:
    return Path(default_storage.path(stored["path"]))


def replay_segments(job: TrainingJob, record: ChainRecord, count: int) -> list[tuple[int, int]]:
    """The ``count`` segments to re-execute: between consecutive checkpoints, those whose
    adapters moved most, plus one drawn from the record's hash (so a prover cannot know it in
    advance, and anyone rerunning the check draws the same one)."""
    stored = sorted(job.checkpoints, key=lambda c: c["step"])
    segments = [(a, b) for a, b in zip(stored, stored[1:], strict=False)]
    if count <= 0 or not segments:
        return []
    moved = sorted(
        segments,
        key=lambda s: adapter_distance(_checkpoint_dir(s[1]), _checkpoint_dir(s[0])),
        reverse=True,
    )
    chosen = moved[: max(count - 1, 0)]
    rest = [s for s in segments if s not in chosen]
    if rest and len(chosen) < count:
        draw = int.from_bytes(hashlib.sha256(record.hash.encode()).digest()[:8], "big")
        chosen.append(rest[draw % len(rest)])
    return sorted((a["step"], b["step"]) for a, b in chosen)


def _replay(job: TrainingJob, record: ChainRecord, count: int, check: RecordCheck) -> None:
    run_settings = TrainSettings(**job.settings)
    recorded, here = record.payload.get("quantization"), choose_precision(run_settings)
    if here.quantization != recorded:
        # A 4-bit run's arithmetic is the GPU kernel's: a CPU rerun cannot match it, and a
        # replay that cannot be done must not pass.
        check.problems.append(
            f"the run used quantization {recorded!r}; this machine would replay it as "
            f"{here.quantization!r} ({here.reason}): replay it where it ran"
        )
        return
    by_step = {c["step"]: c for c in job.checkpoints}
    for start, end in replay_segments(job, record, count):
        out = replay_segment(
            base_model_path=job.agent.base_model.path,
            checkpoint_dir=_checkpoint_dir(by_step[start]),
            pairs=job_pairs(job),
            data_order=job.data_order,
            settings=run_settings,
            start_step=start,
            end_step=end,
        )
        try:
            distance = adapter_distance(out, _checkpoint_dir(by_step[end]))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        check.replayed.append({"segment": [start, end], "distance": distance})
        if distance > settings.ARENA_POL_REPLAY_TOLERANCE:
            check.problems.append(
                f"replaying steps {start}..{end} ends {distance:.3g} from the recorded checkpoint "
                f"(tolerance {settings.ARENA_POL_REPLAY_TOLERANCE:g})"
            )


def verify_record(record: ChainRecord, *, replay: int = 0) -> RecordCheck:
    payload = record.payload
    job = TrainingJob.objects.select_related("result", "agent__base_model").filter(
        pk=payload.get("job")
    )
    job = job.first()
    check = RecordCheck(seq=record.seq, job=payload.get("job"))
    if job is None:
        check.problems.append(f"job #{payload.get('job')} is gone")
        return check
    _check_pairs(payload, check)
    _check_files(job, payload, check)
    if replay and check.ok:  # replaying files that already fail proves nothing more
        _replay(job, record, replay, check)
    return check


def verify_pol(*, seq: int | None = None, replay: int = 0) -> Verification:
    records = ChainRecord.objects.filter(chain=CHAIN).order_by("seq")
    if seq is not None:
        records = records.filter(seq=seq)
    return Verification(
        records=[verify_record(record, replay=replay) for record in records],
        chain_problems=verify_chain(),
    )
