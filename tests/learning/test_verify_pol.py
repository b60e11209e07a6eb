"""verify_pol: an honest chain verifies (replays included); every tampering is caught and named:
an edited verdict, an edited pair, a removed pair, a swapped adapter file, an edited checkpoint,
edited hyperparameters, a deleted or reordered record, a changed anchored root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from agents.inference.base import ADAPTER_WEIGHTS
from agents.models import TrainingJob
from agents.training_jobs import job_run
from arena.services import dispatch
from judges.models import Verdict
from learning.models import TrainingProof
from learning.proofs import CHAIN
from learning.services import training_request
from learning.verification import replay_segments, verify_pol
from ledger.records import anchor_chain
from preferences.models import PreferencePair
from tests.ledger.test_record_chain import raw as sql


@pytest.fixture(autouse=True)
def run_here():
    with dispatch.inline():
        yield


def train(agent, seed: int) -> TrainingJob:
    job = job_run(job_id=training_request(agent=agent, seed=seed).pk)
    assert job.status == "succeeded", job.error
    return job


@pytest.fixture
def proved(trainee):
    """One honest record: a job of 2 steps with a checkpoint every step."""
    return train(trainee, seed=4)


def problems(seq: int | None = None) -> list[str]:
    result = verify_pol(seq=seq)
    return result.chain_problems + [p for r in result.records for p in r.problems]


def test_an_honest_chain_verifies_with_replays(proved, capsys):
    segments = replay_segments(proved, proved.proof.record, 2)
    assert segments == [(0, 1), (1, 2)]  # both segments of a 2-step run
    result = verify_pol(replay=2)
    assert result.ok, result.as_dict()
    [record] = result.records
    assert [r["segment"] for r in record.replayed] == [[0, 1], [1, 2]]
    assert all(r["distance"] <= 1e-4 for r in record.replayed)
    call_command("verify_pol", "--all", "--replay", "1", "--json")
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_an_edited_verdict_is_caught(proved):
    pair = PreferencePair.objects.get(pk=proved.examples.first().pair_id)
    verdict = Verdict.objects.get(pk=pair.verdict_ids[0])
    data = {**verdict.data, "points": list(reversed(verdict.data["points"]))}
    sql("UPDATE judges_verdict SET data = %s WHERE id = %s", [json.dumps(data), verdict.pk])
    assert problems() == [
        "the pairs' evidence root differs from the record's: a seat or verdict was edited"
    ]


def test_an_edited_pair_is_caught(proved):
    pair_id = proved.examples.first().pair_id
    PreferencePair.objects.filter(pk=pair_id).update(chosen_text="a better answer, made up")
    found = problems()
    assert f"pair #{pair_id} does not match its content hash (edited)" in found
    assert f"pair #{pair_id}: its texts are not what match's seats answered" in found


def test_a_pair_edited_with_its_hash_recomputed_still_breaks_the_root(proved):
    pair = PreferencePair.objects.get(pk=proved.examples.first().pair_id)
    pair.margin = 0.999
    PreferencePair.objects.filter(pk=pair.pk).update(
        margin=pair.margin, content_sha256=pair.compute_content_sha256()
    )
    # the margin is not in the content hash; the hash is the same, the root holds:
    assert problems() == []
    pair.prompt_text = "a different prompt"
    PreferencePair.objects.filter(pk=pair.pk).update(
        prompt_text=pair.prompt_text, content_sha256=pair.compute_content_sha256()
    )
    assert "the pairs' Merkle root differs from the record's" in problems()


def test_a_removed_pair_is_caught(proved):
    pair_id = proved.examples.last().pair_id
    PreferencePair.objects.filter(pk=pair_id).delete()
    assert problems() == [f"pair #{pair_id} is gone"]


def test_a_swapped_adapter_file_is_caught(proved, trainee):
    weights = proved.result.directory / ADAPTER_WEIGHTS
    other = Path(default_storage.path(proved.checkpoints[0]["path"])) / ADAPTER_WEIGHTS
    shutil.copy(other, weights)  # the untrained adapter in place of the trained one
    assert problems() == [
        f"the adapter file of v{proved.result.number} does not hash to the recorded sha256 "
        "(swapped or edited)"
    ]


def test_an_edited_checkpoint_is_caught(proved):
    directory = Path(default_storage.path(proved.checkpoints[1]["path"]))
    target = next(p for p in sorted(directory.iterdir()) if p.suffix == ".json")
    target.write_text(target.read_text() + " ")
    assert problems() == ["the checkpoint of step 1 does not hash to the recorded sha256"]


def test_edited_hyperparameters_are_caught_in_the_job_and_in_the_record(proved):
    hyper = {**proved.hyperparameters, "learning_rate": 0.005}
    TrainingJob.objects.filter(pk=proved.pk).update(hyperparameters=hyper)
    assert problems() == ["the job's hyperparameters differ from the record's (edited)"]
    record = proved.proof.record
    payload = {**record.payload, "hyperparameters": hyper}  # now the record agrees: its hash not
    sql(
        "UPDATE ledger_chainrecord SET payload = %s WHERE id = %s", [json.dumps(payload), record.pk]
    )
    [problem] = problems()
    assert problem.startswith(f"record {record.seq}: ")


def test_a_deleted_or_reordered_record_is_caught(proved, trainee):
    jobs = [proved]
    for seed in (9, 10):
        TrainingJob.objects.filter(pk=jobs[-1].pk).update(status="failed")  # frees its pairs
        jobs.append(train(trainee, seed=seed))
    records = [job.proof.record for job in jobs]
    assert [r.seq for r in records] == [0, 1, 2] and problems() == []
    # records 1 and 2 change places (through a free seq: (chain, seq) is unique)
    swaps = [(99, records[1]), (1, records[2]), (2, records[1])]
    for seq, record in swaps:
        sql("UPDATE ledger_chainrecord SET seq = %s WHERE id = %s", [seq, record.pk])
    assert (
        "record 2: its prev_hash is the hash of record 0, not of record 1: the records were "
        "reordered" in problems()
    )
    for seq, record in [(99, records[1]), (2, records[2]), (1, records[1])]:
        sql("UPDATE ledger_chainrecord SET seq = %s WHERE id = %s", [seq, record.pk])
    assert problems() == []
    TrainingProof.objects.filter(record=records[1]).delete()
    sql("DELETE FROM ledger_chainrecord WHERE id = %s", [records[1].pk])
    assert any(p.startswith("record 1") for p in problems())


def test_a_changed_anchored_root_is_caught(proved, capsys):
    anchor = anchor_chain(chain=CHAIN)
    assert anchor is not None and problems() == []
    sql("UPDATE ledger_chainanchor SET root = %s WHERE id = %s", ["0" * 64, anchor.pk])
    assert any(p.startswith("anchor up to record 0") for p in problems())
    with pytest.raises(SystemExit) as exited:
        call_command("verify_pol", "--all")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "verification FAILED" in out and "anchor up to record 0" in out
