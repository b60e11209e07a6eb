"""Record chains: append a record, verify a chain, anchor its head on an EVM chain.

Appending is serialized per chain across processes. On PostgreSQL a transaction-scoped advisory
lock on the chain's name is taken before the head is read, so each append sees the previous
one's commit. SQLite has one writer at a time, and the project's SQLite connections begin every
transaction with ``IMMEDIATE`` (arena/settings.py), so the head is read under the write lock
too. On any database the unique constraints (chain, seq) and (chain, prev_hash) stand behind
this: an append that somehow read a stale head fails instead of forking the chain.

An anchor is one transaction from the platform account to itself, value 0, whose data is
``ANCHOR_TAG`` followed by the 32 bytes of the head record's hash. Because each hash covers the
previous one, that root commits to every record up to the head. See docs/record-chain.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Max
from web3.exceptions import TimeExhausted, TransactionNotFound

from ledger.canonical import CanonicalJSONError, canonical_json
from ledger.chain.errors import ChainError
from ledger.chain.node import get_web3, platform_account
from ledger.chain.withdrawals import RECEIPT_TIMEOUT_S, SignerBusy, signer_lock
from ledger.errors import LedgerError, RecordChainError
from ledger.models import GENESIS_PREV_HASH, ChainAnchor, ChainRecord

log = logging.getLogger(__name__)

__all__ = [
    "ANCHOR_TAG",
    "RecordChainError",
    "RecordProblem",
    "anchor_chain",
    "anchor_data",
    "anchor_pending_chains",
    "anchor_verify",
    "chain_verify",
    "record_append",
]

# "Arena record chain, format 1": lets anyone pick anchors out of the platform's transactions.
ANCHOR_TAG = b"ARENARC1"
CHAIN_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KIND_MAX_LENGTH = 64
# Held across one anchoring (sign, send, wait for the receipt, store), so two callers never
# send two transactions for the same head; it expires by itself if its holder dies.
ANCHOR_LOCK_TIMEOUT_S = RECEIPT_TIMEOUT_S + 60
ANCHOR_LOCK_WAIT_S = RECEIPT_TIMEOUT_S + 60


@dataclass(frozen=True)
class RecordProblem:
    """One thing wrong with a chain: the record's seq, what failed (``code``) and how.

    Codes: ``content`` (the hash does not match the record's content), ``link`` (prev_hash is
    not the previous record's hash), ``order`` (prev_hash is another record's hash: the records
    were reordered), ``missing`` (no record at this seq: deleted), ``anchor`` (the record's hash
    is not the root anchored for it, or an anchored record is gone).
    """

    seq: int
    code: str
    detail: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.detail}"


# --- appending --------------------------------------------------------------------------------


def record_append(*, chain: str, kind: str, payload) -> ChainRecord:
    """Append one record to ``chain`` and return it. The payload must have a canonical JSON form
    that the database stores unchanged; otherwise ``RecordChainError`` and nothing is written."""
    if not isinstance(chain, str) or not CHAIN_NAME_RE.match(chain):
        raise RecordChainError(
            f"chain name {chain!r} must be 1 to 64 of a-z, 0-9, '.', '_', '-' (first a-z or 0-9)"
        )
    if not isinstance(kind, str) or not 0 < len(kind) <= KIND_MAX_LENGTH:
        raise RecordChainError(f"kind {kind!r} must be a string of 1 to {KIND_MAX_LENGTH} chars")
    try:
        payload_bytes = canonical_json(payload)
    except CanonicalJSONError as exc:
        raise RecordChainError(f"the payload is not canonical JSON: {exc}") from None

    try:
        with transaction.atomic():
            _lock_chain(chain)
            head = (
                ChainRecord.objects.filter(chain=chain)
                .order_by("-seq")
                .values_list("seq", "hash")
                .first()
            )
            seq, prev_hash = (0, GENESIS_PREV_HASH) if head is None else (head[0] + 1, head[1])
            record = ChainRecord(chain=chain, seq=seq, kind=kind, payload=payload)
            record.prev_hash = prev_hash
            record.hash = record.content_hash()
            record.save()
            # What the database holds, not the caller's object (which the caller may change).
            record.payload = _stored_payload_unchanged(record, payload_bytes)
    except DataError as exc:  # e.g. PostgreSQL's jsonb refuses "\u0000"
        raise RecordChainError(f"the database refused the payload: {exc}") from None
    except IntegrityError as exc:
        # Only an append that read a stale head gets here (a database whose transactions do not
        # take the write lock at BEGIN): the constraints kept the chain a line.
        raise RecordChainError(f"a concurrent append to {chain!r} won; try again ({exc})") from exc
    return record


def _lock_chain(chain: str) -> None:
    if connection.vendor == "postgresql":
        # Held until commit or rollback. The key: the first 8 bytes of a hash of the name.
        digest = hashlib.sha256(f"arena.record_chain:{chain}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
            )


def _stored_payload_unchanged(record: ChainRecord, payload_bytes: bytes):
    """The hash must be recomputable from what the database hands back. PostgreSQL's jsonb
    keeps numbers as numeric, so a float such as 1e+16 comes back as the integer
    10000000000000000: refuse such a payload (the transaction rolls back) rather than store a
    record that would never verify."""
    stored = ChainRecord.objects.filter(pk=record.pk).values_list("payload", flat=True).get()
    if canonical_json(stored) != payload_bytes:
        raise RecordChainError(
            "the payload does not survive storage unchanged (the database rewrote a number or "
            "string); store such values as strings"
        )
    return stored


# --- verifying --------------------------------------------------------------------------------


def chain_verify(*, chain: str) -> list[RecordProblem]:
    """Every problem of ``chain``, in seq order; an empty list means it verifies.

    Checks each record's hash against its content, each link to the previous record, that seq
    runs 0..head without a gap, and that each stored anchor's root is still the hash of its
    record (which also catches records removed from the head, which no link can show).
    """
    problems = _records_problems(chain)
    seen = {(p.seq, p.code) for p in problems}
    for anchor in ChainAnchor.objects.filter(chain=chain).order_by("up_to_seq"):
        problems.extend(p for p in _anchor_record_problems(anchor) if (p.seq, p.code) not in seen)
    return sorted(problems, key=lambda p: p.seq)


def _records_problems(chain: str, *, up_to_seq: int | None = None) -> list[RecordProblem]:
    records = ChainRecord.objects.filter(chain=chain)
    # Every record's hash, so a link to the wrong record is named as reordering.
    hashes = dict(records.values_list("hash", "seq"))
    if up_to_seq is not None:
        records = records.filter(seq__lte=up_to_seq)
    problems: list[RecordProblem] = []
    expected_seq, previous = 0, None
    for record in records.order_by("seq").iterator(chunk_size=500):
        while expected_seq < record.seq:
            problems.append(RecordProblem(expected_seq, "missing", "is missing (deleted)"))
            previous, expected_seq = None, expected_seq + 1
        problems.extend(_record_problems(record, previous, hashes))
        previous, expected_seq = record, record.seq + 1
    return problems


def _record_problems(
    record: ChainRecord, previous: ChainRecord | None, hashes: dict[str, int]
) -> list[RecordProblem]:
    problems = []
    try:
        content_hash = record.content_hash()
    except CanonicalJSONError as exc:  # an edit stored something that is not plain JSON
        content_hash = f"(none: {exc})"
    if content_hash != record.hash:
        problems.append(
            RecordProblem(
                record.seq,
                "content",
                f"its hash {record.hash} does not match its content (which hashes to "
                f"{content_hash}): the record was edited",
            )
        )
    if record.seq == 0:
        expected_prev = GENESIS_PREV_HASH
    elif previous is None:
        return problems  # its predecessor is missing, already reported
    else:
        expected_prev = previous.hash
    if record.prev_hash == expected_prev:
        return problems
    points_at = hashes.get(record.prev_hash)
    if points_at is not None and points_at != record.seq - 1:
        problems.append(
            RecordProblem(
                record.seq,
                "order",
                f"its prev_hash is the hash of record {points_at}, not of record "
                f"{record.seq - 1}: the records were reordered",
            )
        )
    else:
        problems.append(
            RecordProblem(
                record.seq,
                "link",
                f"its prev_hash {record.prev_hash} is not the hash of record {record.seq - 1} "
                f"({expected_prev})",
            )
        )
    return problems


def _anchor_record_problems(anchor: ChainAnchor) -> list[RecordProblem]:
    record = ChainRecord.objects.filter(chain=anchor.chain, seq=anchor.up_to_seq).first()
    if record is None:
        return [
            RecordProblem(
                anchor.up_to_seq,
                "missing",
                f"was anchored in transaction {anchor.tx_hash} but is missing (deleted)",
            )
        ]
    if record.hash != anchor.root:
        return [
            RecordProblem(
                anchor.up_to_seq,
                "anchor",
                f"its hash {record.hash} is not the root {anchor.root} anchored in transaction "
                f"{anchor.tx_hash}: the chain was changed after it was anchored",
            )
        ]
    return []


# --- anchoring --------------------------------------------------------------------------------


def anchor_data(root: str) -> bytes:
    """The data of an anchor transaction: the tag, then the root's 32 bytes."""
    return ANCHOR_TAG + bytes.fromhex(root)


def anchor_chain(*, chain: str) -> ChainAnchor | None:
    """Anchor the head of ``chain`` in one transaction and store the anchor; None when every
    record is anchored already (or the chain is empty). Safe to call concurrently: one caller
    anchors a given head, the others find nothing new."""
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(
        f"arena:record-anchor:{chain}",
        timeout=ANCHOR_LOCK_TIMEOUT_S,
        blocking_timeout=ANCHOR_LOCK_WAIT_S,
    )
    try:
        with lock:
            head = ChainRecord.objects.filter(chain=chain).order_by("-seq").first()
            last = ChainAnchor.objects.filter(chain=chain).order_by("-up_to_seq").first()
            if head is None or (last is not None and last.up_to_seq >= head.seq):
                return None
            return _send_anchor(head)
    except redis.exceptions.LockError as exc:
        raise SignerBusy(f"another anchoring of {chain!r} holds its lock: {exc}") from exc


def _send_anchor(head: ChainRecord) -> ChainAnchor:
    # Never publish a root the records do not support: a chain edited since its last anchor
    # would be vouched for by the new one.
    problems = chain_verify(chain=head.chain)
    if problems:
        listed = "; ".join(str(p) for p in problems[:3])
        raise RecordChainError(f"chain {head.chain!r} does not verify, not anchored: {listed}")
    w3 = get_web3()
    account = platform_account()
    data = anchor_data(head.hash)
    try:
        with signer_lock():  # the same lock as withdrawals: one nonce sequence for the key
            tx = {"from": account.address, "to": account.address, "value": 0, "data": data}
            signed = account.sign_transaction(
                {
                    "to": account.address,
                    "value": 0,
                    "data": data,
                    # Calldata gas differs between forks: ask the node.
                    "gas": w3.eth.estimate_gas(tx),
                    "gasPrice": w3.eth.gas_price,
                    "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                    "chainId": w3.eth.chain_id,
                }
            )
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except redis.exceptions.LockError as exc:
        raise SignerBusy(f"the platform key's signer is busy: {exc}") from exc
    except OSError:
        raise  # transport trouble: the next run tries again
    except Exception as exc:  # the node refused it (no funds for gas, a bad nonce...)
        raise ChainError(f"the node refused the anchor transaction: {exc}") from exc
    tx_hex = "0x" + bytes(tx_hash).hex()
    try:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except TimeExhausted as exc:
        # Harmless if it is mined later: a second anchor of the same root says the same thing.
        raise ChainError(f"anchor transaction {tx_hex} not mined in time") from exc
    if receipt["status"] != 1:
        raise ChainError(f"anchor transaction {tx_hex} reverted on chain")
    return ChainAnchor.objects.create(
        chain=head.chain,
        up_to_seq=head.seq,
        root=head.hash,
        chain_id=w3.eth.chain_id,
        tx_hash=tx_hex,
        block_number=receipt["blockNumber"],
    )


def anchor_pending_chains() -> list[ChainAnchor]:
    """Anchor every chain that has records past its last anchor; a chain that fails is logged
    and left for the next run, the others are still anchored."""
    heads = (
        ChainRecord.objects.values("chain").annotate(head=Max("seq")).values_list("chain", "head")
    )
    anchored = dict(
        ChainAnchor.objects.values("chain")
        .annotate(top=Max("up_to_seq"))
        .values_list("chain", "top")
    )
    anchors = []
    for chain, head in heads:
        if anchored.get(chain, -1) >= head:
            continue
        try:
            anchor = anchor_chain(chain=chain)
        except (LedgerError, OSError):
            log.exception("anchoring record chain %r failed; the next run tries again", chain)
            continue
        if anchor is not None:
            anchors.append(anchor)
    return anchors


def anchor_verify(anchor: ChainAnchor) -> list[str]:
    """What is wrong with ``anchor``, as sentences; an empty list means it verifies.

    On chain: the transaction exists on the configured network, succeeded, sits in the stored
    block, and its data is the tag and the stored root. In the database: the records 0..up_to_seq
    verify (``chain_verify``) and the root is still the hash of record up_to_seq.
    """
    problems = []
    w3 = get_web3()
    if w3.eth.chain_id != anchor.chain_id:
        problems.append(
            f"anchor {anchor.tx_hash} was made on chain id {anchor.chain_id}, "
            f"but the node is chain id {w3.eth.chain_id}"
        )
    try:
        tx = w3.eth.get_transaction(anchor.tx_hash)
        receipt = w3.eth.get_transaction_receipt(anchor.tx_hash)
    except TransactionNotFound:
        problems.append(f"transaction {anchor.tx_hash} is not on chain id {w3.eth.chain_id}")
    else:
        data = bytes(tx["input"])
        if data[: len(ANCHOR_TAG)] != ANCHOR_TAG or len(data) != len(ANCHOR_TAG) + 32:
            problems.append(f"transaction {anchor.tx_hash} does not carry an anchor ({data.hex()})")
        elif data[len(ANCHOR_TAG) :].hex() != anchor.root:
            problems.append(
                f"transaction {anchor.tx_hash} anchors root {data[len(ANCHOR_TAG) :].hex()}, "
                f"not the stored root {anchor.root}: the stored anchor was changed"
            )
        if receipt["status"] != 1:
            problems.append(f"transaction {anchor.tx_hash} failed on chain")
        if receipt["blockNumber"] != anchor.block_number:
            problems.append(
                f"transaction {anchor.tx_hash} is in block {receipt['blockNumber']}, "
                f"not block {anchor.block_number} as stored"
            )
    record_problems = _records_problems(anchor.chain, up_to_seq=anchor.up_to_seq)
    seen = {(p.seq, p.code) for p in record_problems}
    record_problems += [p for p in _anchor_record_problems(anchor) if (p.seq, p.code) not in seen]
    problems.extend(str(p) for p in record_problems)
    return problems
