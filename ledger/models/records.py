"""Record chains: append-only, hash-linked records, and the anchors of their heads on an EVM chain.

A chain (for example "proof-of-learning") is the records with that ``chain`` name in ``seq``
order 0, 1, 2... Each record's ``hash`` is the sha256 of the canonical JSON of
``{"chain", "seq", "kind", "payload", "prev_hash"}``, and ``prev_hash`` is the previous
record's ``hash`` (64 zeros for seq 0), so the head's hash commits to every record before it.
The unique constraints make the chain a line: one record per seq, and one successor per record.

Rows are never edited or deleted (``AppendOnlyModel``); ``ledger.records`` appends, verifies and
anchors. See docs/record-chain.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ledger.canonical import canonical_json, sha256_hex
from ledger.models.accounts import AppendOnlyModel

__all__ = ["ChainRecord", "ChainAnchor", "GENESIS_PREV_HASH", "record_hash"]

GENESIS_PREV_HASH = "0" * 64
_HEX64 = r"^[0-9a-f]{64}$"
_NAME = r"^[a-z0-9][a-z0-9._-]*$"


def record_hash(*, chain: str, seq: int, kind: str, payload, prev_hash: str) -> str:
    """The hash of a record with this content: the one definition, used to write and to verify."""
    content = {"chain": chain, "seq": seq, "kind": kind, "payload": payload, "prev_hash": prev_hash}
    return sha256_hex(canonical_json(content))


class ChainRecord(AppendOnlyModel):
    chain = models.CharField(max_length=64, help_text='e.g. "proof-of-learning"')
    seq = models.BigIntegerField(help_text="0, 1, 2... within the chain")
    kind = models.CharField(max_length=64)
    payload = models.JSONField(help_text="canonical-JSON-able content")
    prev_hash = models.CharField(max_length=64, help_text="the previous record's hash")
    hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="ledger_chainrecord_seq_unique"),
            # One successor per record: two appends that read the same head cannot both land.
            models.UniqueConstraint(
                fields=["chain", "prev_hash"], name="ledger_chainrecord_one_successor"
            ),
            models.CheckConstraint(condition=Q(seq__gte=0), name="ledger_chainrecord_seq_nonneg"),
            # seq 0 and only seq 0 starts from the zero hash.
            models.CheckConstraint(
                condition=Q(seq=0, prev_hash=GENESIS_PREV_HASH)
                | (Q(seq__gt=0) & ~Q(prev_hash=GENESIS_PREV_HASH)),
                name="ledger_chainrecord_genesis",
            ),
            models.CheckConstraint(
                condition=Q(prev_hash__regex=_HEX64), name="ledger_chainrecord_prev_hash_hex"
            ),
            models.CheckConstraint(
                condition=Q(hash__regex=_HEX64), name="ledger_chainrecord_hash_hex"
            ),
            models.CheckConstraint(
                condition=Q(chain__regex=_NAME), name="ledger_chainrecord_chain_name"
            ),
            models.CheckConstraint(condition=~Q(kind=""), name="ledger_chainrecord_kind_set"),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} {self.kind} {self.hash[:12]}"

    def content_hash(self) -> str:
        """The hash this record's content gives now (equal to ``hash`` unless edited)."""
        return record_hash(
            chain=self.chain,
            seq=self.seq,
            kind=self.kind,
            payload=self.payload,
            prev_hash=self.prev_hash,
        )


class ChainAnchor(AppendOnlyModel):
    """A transaction on an EVM chain whose data carries the hash of record ``up_to_seq``."""

    chain = models.CharField(max_length=64)
    up_to_seq = models.BigIntegerField(help_text="the anchored head; its hash is the root")
    root = models.CharField(max_length=64, help_text="hash of record up_to_seq")
    chain_id = models.BigIntegerField(help_text="EIP-155 chain id of the network")
    tx_hash = models.CharField(max_length=66, unique=True)
    block_number = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain", "up_to_seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "up_to_seq"], name="ledger_chainanchor_seq_unique"
            ),
            models.CheckConstraint(
                condition=Q(up_to_seq__gte=0), name="ledger_chainanchor_seq_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(root__regex=_HEX64), name="ledger_chainanchor_root_hex"
            ),
            models.CheckConstraint(
                condition=Q(tx_hash__regex=r"^0x[0-9a-f]{64}$"), name="ledger_chainanchor_tx_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} up to #{self.up_to_seq} in {self.tx_hash}"
