"""The record chain: appends linked by hashes anyone can recompute, tampering caught and named,
bad payloads refused with nothing written, and appends from racing processes kept in one line.

Tampering goes around the append-only guard with raw SQL, as someone with database access would.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal

import pytest
from django.db import connection, transaction

from ledger.canonical import CanonicalJSONError, canonical_json, sha256_hex
from ledger.errors import ImmutableRecord
from ledger.models import ChainRecord
from ledger.records import RecordChainError, chain_verify, record_append
from tests.ledger.conftest import race

ZERO = "0" * 64


def by_hand(chain: str, seq: int, kind: str, payload, prev_hash: str) -> str:
    """The documented hash, computed without the project's code (docs/record-chain.md)."""
    content = {"chain": chain, "seq": seq, "kind": kind, "payload": payload, "prev_hash": prev_hash}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def set_payload(record: ChainRecord, payload) -> None:
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    raw(
        f"UPDATE ledger_chainrecord SET payload = {cast} WHERE id = %s",
        [json.dumps(payload), record.pk],
    )


def append_three(chain: str = "pol") -> list[ChainRecord]:
    return [
        record_append(chain=chain, kind="job", payload={"job": n, "loss": 0.5 / (n + 1)})
        for n in range(3)
    ]


def problems(chain: str = "pol") -> list[tuple[int, str]]:
    return [(p.seq, p.code) for p in chain_verify(chain=chain)]


# --- canonical JSON ---------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": [1, 2.5, None], "a": {"é": True}}) == (
        '{"a":{"é":true},"b":[1,2.5,null]}'.encode()
    )
    assert canonical_json((1, "x")) == canonical_json([1, "x"])
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, math.nan]}, r"\$\.a\[1\] is nan"),
        ({"x": math.inf}, r"\$\.x is inf"),
        ({1: "one"}, "has the key 1 .int.: JSON keys are strings"),
        ({"d": Decimal("1.5")}, r"\$\.d is a Decimal, not a JSON type"),
        ({"s": {1, 2}}, r"\$\.s is a set"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_canonical_json_refuses_what_json_cannot_say_exactly(value, message):
    with pytest.raises(CanonicalJSONError, match=message):
        canonical_json(value)


# --- appending --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_appends_records_whose_hashes_anyone_can_recompute():
    records = append_three()

    assert [r.seq for r in records] == [0, 1, 2]
    assert records[0].prev_hash == ZERO
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:2]]
    for stored in ChainRecord.objects.filter(chain="pol"):
        assert stored.hash == by_hand("pol", stored.seq, "job", stored.payload, stored.prev_hash)
    assert chain_verify(chain="pol") == []


@pytest.mark.django_db
def test_chains_are_independent():
    append_three("pol")
    other = record_append(chain="audit-2", kind="note", payload=["first"])

    assert (other.seq, other.prev_hash) == (0, ZERO)
    assert chain_verify(chain="pol") == [] and chain_verify(chain="audit-2") == []


@pytest.mark.django_db
def test_records_cannot_be_changed_through_the_orm():
    record = record_append(chain="pol", kind="job", payload={})
    record.kind = "other"
    with pytest.raises(ImmutableRecord):
        record.save()
    with pytest.raises(ImmutableRecord):
        ChainRecord.objects.filter(pk=record.pk).update(kind="other")
    with pytest.raises(ImmutableRecord):
        record.delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"payload": {"loss": math.nan}}, r"not canonical JSON: \$\.loss is nan"),
        ({"payload": {"when": object()}}, r"\$\.when is a object"),
        ({"payload": {7: "seven"}}, "JSON keys are strings"),
        ({"chain": "Has Spaces"}, "chain name 'Has Spaces' must be"),
        ({"chain": ""}, "chain name '' must be"),
        ({"kind": ""}, "kind '' must be"),
    ],
)
def test_it_refuses_a_bad_append_and_writes_nothing(kwargs, message):
    append_three()
    call = {"chain": "pol", "kind": "job", "payload": {}} | kwargs

    with transaction.atomic():  # a caller's transaction goes on after the refusal
        with pytest.raises(RecordChainError, match=message):
            record_append(**call)
        assert ChainRecord.objects.count() == 3

    assert record_append(chain="pol", kind="job", payload={}).seq == 3
    assert chain_verify(chain="pol") == []


@pytest.mark.django_db
def test_a_payload_the_database_would_rewrite_is_refused_or_stored_verifiable():
    # PostgreSQL's jsonb stores numbers as numeric: 1e16 comes back as an integer, so its hash
    # could never be recomputed; SQLite keeps the text. Either way no record fails to verify.
    payload = {"big": 1e16, "nul": "a\u0000b" if connection.vendor != "postgresql" else "ok"}
    if connection.vendor == "postgresql":
        with pytest.raises(RecordChainError, match="does not survive storage unchanged"):
            record_append(chain="pol", kind="job", payload=payload)
        with pytest.raises(RecordChainError, match="database refused the payload"):
            record_append(chain="pol", kind="job", payload={"nul": "a\u0000b"})
        assert ChainRecord.objects.count() == 0
    else:
        record_append(chain="pol", kind="job", payload=payload)
        assert chain_verify(chain="pol") == []


# --- tampering --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_edited_payload_is_named():
    records = append_three()
    set_payload(records[1], {"job": 1, "loss": 0.01})  # a better loss than the job had

    assert problems() == [(1, "content")]
    assert "record 1: its hash" in str(chain_verify(chain="pol")[0])


@pytest.mark.django_db
def test_an_edited_prev_hash_is_named():
    records = append_three()
    raw("UPDATE ledger_chainrecord SET prev_hash = %s WHERE id = %s", ["ab" * 32, records[2].pk])

    assert problems() == [(2, "content"), (2, "link")]


@pytest.mark.django_db
def test_a_rehashed_edit_still_breaks_the_next_link():
    """Recomputing the edited record's own hash does not help: its successor names it."""
    records = append_three()
    edited = {"job": 1, "loss": 0.01}
    new_hash = by_hand("pol", 1, "job", edited, records[1].prev_hash)
    set_payload(records[1], edited)
    raw("UPDATE ledger_chainrecord SET hash = %s WHERE id = %s", [new_hash, records[1].pk])

    assert problems() == [(2, "link")]


@pytest.mark.django_db
def test_an_edited_seq_is_named():
    records = append_three()
    raw("UPDATE ledger_chainrecord SET seq = 5 WHERE id = %s", [records[2].pk])

    assert problems() == [(2, "missing"), (3, "missing"), (4, "missing"), (5, "content")]


@pytest.mark.django_db
def test_a_deleted_record_is_named():
    records = append_three()
    record_append(chain="pol", kind="job", payload={})
    raw("DELETE FROM ledger_chainrecord WHERE id = %s", [records[1].pk])

    assert problems() == [(1, "missing")]
    assert str(chain_verify(chain="pol")[0]) == "record 1: is missing (deleted)"


@pytest.mark.django_db
def test_reordered_records_are_named():
    records = append_three()
    # Swap the seqs of records 1 and 2 (through a free seq: (chain, seq) is unique).
    raw("UPDATE ledger_chainrecord SET seq = 99 WHERE id = %s", [records[1].pk])
    raw("UPDATE ledger_chainrecord SET seq = 1 WHERE id = %s", [records[2].pk])
    raw("UPDATE ledger_chainrecord SET seq = 2 WHERE id = %s", [records[1].pk])

    found = chain_verify(chain="pol")
    assert [(p.seq, p.code) for p in found] == [
        (1, "content"),
        (1, "order"),
        (2, "content"),
        (2, "order"),
    ]
    assert "prev_hash is the hash of record 2, not of record 0" in str(found[1])


# --- racing processes -------------------------------------------------------------------------

RACERS = 2
APPENDS = 60


@pytest.mark.postgres
def test_racing_processes_append_one_gapless_linked_chain(transactional_db, tmp_path):
    """Two OS processes, each with its own PostgreSQL connection, append at once: every append
    succeeds and the chain is one line 0..n-1 with each record linked to the one before."""
    rows = race(
        "tests.ledger.record_chain_racer",
        lambda i: ["--chain", "race", "--racer", str(i), "--appends", str(APPENDS)],
        RACERS,
        tmp_path,
        timeout=300,
    )

    assert [r for r in rows if "error" in r] == []
    records = list(ChainRecord.objects.filter(chain="race").order_by("seq"))
    assert [r.seq for r in records] == list(range(RACERS * APPENDS))
    assert {r.pk for r in records} == {row["transfer"] for row in rows}  # racer_main's id field
    assert records[0].prev_hash == ZERO
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:], strict=False))
    assert chain_verify(chain="race") == []
    # Each racer's own appends stay in its order, and the two really interleaved.
    for racer in range(RACERS):
        assert [r.payload["n"] for r in records if r.payload["racer"] == racer] == list(
            range(APPENDS)
        )
    switches = sum(
        a.payload["racer"] != b.payload["racer"] for a, b in zip(records, records[1:], strict=False)
    )
    assert switches > 1
