"""Anchoring record chains on the in-process chain (eth-tester): one transaction carries the head's
hash, ``anchor_verify`` checks it on chain and against the records, tampering is named."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger.chain import platform_address
from ledger.models import ChainAnchor, ChainRecord, record_hash
from ledger.records import (
    ANCHOR_TAG,
    RecordChainError,
    anchor_chain,
    anchor_verify,
    chain_verify,
    record_append,
)
from ledger.tasks import anchor_record_chains
from tests.ledger.test_record_chain import raw, set_payload

pytestmark = pytest.mark.django_db


def append(chain: str, count: int) -> list[ChainRecord]:
    return [record_append(chain=chain, kind="job", payload={"job": n}) for n in range(count)]


def platform_nonce(w3) -> int:
    return w3.eth.get_transaction_count(platform_address())


def test_it_anchors_the_head_in_one_transaction_that_verifies(w3):
    records = append("pol", 3)
    nonce = platform_nonce(w3)

    anchor = anchor_chain(chain="pol")

    assert (anchor.chain, anchor.up_to_seq, anchor.root) == ("pol", 2, records[2].hash)
    assert anchor.chain_id == w3.eth.chain_id
    tx = w3.eth.get_transaction(anchor.tx_hash)
    assert tx["from"] == tx["to"] == platform_address() and tx["value"] == 0
    assert (
        bytes(tx["input"])
        == b"ARENARC1" + bytes.fromhex(records[2].hash)
        == ANCHOR_TAG + (bytes.fromhex(anchor.root))
    )
    assert w3.eth.get_transaction_receipt(anchor.tx_hash)["blockNumber"] == anchor.block_number
    assert platform_nonce(w3) == nonce + 1
    assert anchor_verify(anchor) == []


def test_nothing_new_sends_no_transaction(w3):
    assert anchor_chain(chain="empty") is None
    append("pol", 2)
    first = anchor_chain(chain="pol")
    nonce = platform_nonce(w3)

    assert anchor_chain(chain="pol") is None
    assert platform_nonce(w3) == nonce

    record_append(chain="pol", kind="job", payload={"job": 2})
    second = anchor_chain(chain="pol")
    assert second.up_to_seq == 2 and second.tx_hash != first.tx_hash
    assert anchor_verify(first) == [] and anchor_verify(second) == []


def test_an_edited_record_is_named_by_the_anchor(w3):
    records = append("pol", 3)
    anchor = anchor_chain(chain="pol")
    set_payload(records[1], {"job": "forged"})

    found = anchor_verify(anchor)

    assert len(found) == 1 and found[0].startswith("record 1: its hash")
    assert [(p.seq, p.code) for p in chain_verify(chain="pol")] == [(1, "content")]


def test_a_consistently_rewritten_chain_is_caught_by_the_anchor(w3):
    """Whoever edits a record and recomputes every hash and link after it gets a chain that
    verifies on its own, but its head is no longer the root on chain."""
    records = append("pol", 3)
    anchor = anchor_chain(chain="pol")
    prev = records[0].hash
    for record, payload in zip(records[1:], [{"job": "forged"}, {"job": 2}], strict=True):
        new_hash = record_hash(
            chain="pol", seq=record.seq, kind="job", payload=payload, prev_hash=prev
        )
        set_payload(record, payload)
        raw(
            "UPDATE ledger_chainrecord SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, new_hash, record.pk],
        )
        prev = new_hash

    found = anchor_verify(anchor)

    assert found == [
        f"record 2: its hash {prev} is not the root {anchor.root} anchored in transaction "
        f"{anchor.tx_hash}: the chain was changed after it was anchored"
    ]
    assert [(p.seq, p.code) for p in chain_verify(chain="pol")] == [(2, "anchor")]


def test_a_changed_anchored_root_is_named(w3):
    append("pol", 2)
    anchor = anchor_chain(chain="pol")
    forged = "cd" * 32
    raw("UPDATE ledger_chainanchor SET root = %s WHERE id = %s", [forged, anchor.pk])
    anchor = ChainAnchor.objects.get(pk=anchor.pk)

    found = anchor_verify(anchor)

    assert any(f"not the stored root {forged}: the stored anchor was changed" in p for p in found)
    assert any(p.startswith("record 1: its hash") and forged in p for p in found)


def test_a_deleted_anchored_head_is_named(w3):
    """No link shows a record removed from the end of a chain; the anchor does."""
    records = append("pol", 3)
    anchor = anchor_chain(chain="pol")
    raw("DELETE FROM ledger_chainrecord WHERE id = %s", [records[2].pk])

    assert anchor_verify(anchor) == [
        f"record 2: was anchored in transaction {anchor.tx_hash} but is missing (deleted)"
    ]
    assert [(p.seq, p.code) for p in chain_verify(chain="pol")] == [(2, "missing")]


def test_an_anchor_whose_transaction_is_not_on_chain_is_named(w3):
    append("pol", 1)
    anchor = anchor_chain(chain="pol")
    missing_tx = "0x" + "ee" * 32
    raw("UPDATE ledger_chainanchor SET tx_hash = %s WHERE id = %s", [missing_tx, anchor.pk])

    assert anchor_verify(ChainAnchor.objects.get(pk=anchor.pk)) == [
        f"transaction {missing_tx} is not on chain id {w3.eth.chain_id}"
    ]


def test_the_task_anchors_every_chain_with_new_records_once(w3):
    append("pol", 2)
    append("audit", 1)
    append("quiet", 1)
    anchor_chain(chain="quiet")

    sent = anchor_record_chains()

    assert sorted(ChainAnchor.objects.filter(tx_hash__in=sent).values_list("chain", flat=True)) == [
        "audit",
        "pol",
    ]
    assert anchor_record_chains() == []
    assert all(anchor_verify(a) == [] for a in ChainAnchor.objects.all())


def test_a_chain_that_does_not_verify_is_not_anchored(w3):
    records = append("pol", 2)
    anchor_chain(chain="pol")
    record_append(chain="pol", kind="job", payload={"job": 2})
    set_payload(records[0], {"job": "forged"})
    nonce = platform_nonce(w3)

    with pytest.raises(RecordChainError, match="'pol' does not verify, not anchored: record 0"):
        anchor_chain(chain="pol")

    assert platform_nonce(w3) == nonce and ChainAnchor.objects.count() == 1


@pytest.mark.parametrize("model", [ChainRecord, ChainAnchor])
def test_the_admin_shows_records_and_anchors_read_only(client, staff, w3, model):
    append("pol", 2)
    anchor_chain(chain="pol")
    client.force_login(staff)
    name = model._meta.model_name
    obj = model.objects.first()

    listing = client.get(reverse(f"admin:ledger_{name}_changelist"))
    page = client.get(reverse(f"admin:ledger_{name}_change", args=[obj.pk]))

    assert listing.status_code == 200 and page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse(f"admin:ledger_{name}_add")).status_code == 403
    delete = reverse(f"admin:ledger_{name}_delete", args=[obj.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert chain_verify(chain="pol") == []
