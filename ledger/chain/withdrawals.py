"""Withdrawals: credits debited into pending, paid as ether signed by the platform key.

The send is safe to repeat: the transaction is signed once and its raw bytes stored before they
are broadcast, so a retry (a crashed worker, a second task) rebroadcasts the same transaction,
which a node mines at most once. Credits go back to the user only when the transaction failed on
chain or can no longer be mined.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

import redis
from celery import signature
from django.conf import settings
from django.db import IntegrityError, transaction
from eth_utils import is_checksum_address, to_checksum_address
from web3.exceptions import TimeExhausted, TransactionNotFound

from ledger import services as ledger_services
from ledger.chain.errors import ChainError
from ledger.chain.node import credits_to_wei, get_web3, platform_account
from ledger.errors import IdempotencyConflict
from ledger.models import Withdrawal

log = logging.getLogger(__name__)

RECEIPT_TIMEOUT_S = 120
GAS_LIMIT = 21_000  # a plain ether transfer to an externally owned account
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# The signer lock is held only while signing and broadcasting (milliseconds on a healthy node).
SIGNER_LOCK_TIMEOUT_S = 30  # expires by itself if its holder dies
SIGNER_LOCK_WAIT_S = 60
# The send task, named rather than imported: ledger.tasks imports this module. A signature runs
# the registered task's apply_async (so CELERY_TASK_ALWAYS_EAGER still runs it in place) and,
# in a process that never imported ledger.tasks, sends it to the broker by name.
SEND_TASK = "ledger.send_withdrawal"


class SignerBusy(OSError):
    """Another worker held the platform key's signer lock for too long: retry later (an
    OSError, so the send task's automatic retry covers it)."""


def signer_lock():
    """One signer at a time for the platform key, across every worker process and machine.

    The nonce of a new transaction is the node's count of the key's transactions, pending ones
    included. That count is only right if the previous transaction was broadcast before the next
    one is signed, so signing and broadcasting happen together under this lock. The lock lives in
    Redis (embedded or not), which every worker shares; a database row lock cannot span the two
    steps, because the signed transaction must be committed *before* it is broadcast.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    return client.lock(
        f"arena:chain-signer:{platform_account().address}",
        timeout=SIGNER_LOCK_TIMEOUT_S,
        blocking_timeout=SIGNER_LOCK_WAIT_S,
    )


def _validate_address(address: str) -> str:
    address = (address or "").strip()
    mixed_case = address[2:] not in (address[2:].lower(), address[2:].upper())
    if not ADDRESS_RE.match(address) or (mixed_case and not is_checksum_address(address)):
        # A mixed-case address carries an EIP-55 checksum; a wrong one means a typo.
        raise ChainError(f"{address!r} is not a valid Ethereum address (0x and 40 hex digits)")
    return to_checksum_address(address)


class WithdrawalRequested(NamedTuple):
    withdrawal: Withdrawal
    created: bool  # False: a replay of an earlier request with the same key


def withdrawal_request(*, user, to_address: str, credits: int, key: str) -> WithdrawalRequested:
    """Debit ``credits`` from the user into pending withdrawals and record the withdrawal; the
    send task is enqueued once the debit commits.

    Idempotent per (user, key): the same request again returns the first withdrawal with
    ``created=False`` and enqueues nothing; the same key with a different request raises
    IdempotencyConflict. Only the request that inserted the row enqueues the send, so requests
    racing with one key queue it once (the unique (user, key) constraint picks that request).
    """
    to_address = _validate_address(to_address)
    if isinstance(credits, bool) or not isinstance(credits, int) or credits <= 0:
        raise ChainError("credits must be a positive whole number")
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise ChainError("an idempotency key of 1 to 100 characters is required")
    wei = credits_to_wei(credits)
    if wei <= 0:
        raise ChainError(f"{credits} credits are worth less than one wei")

    existing = Withdrawal.objects.filter(user=user, idempotency_key=key).first()
    if existing is not None:
        return _same_or_conflict(existing, to_address=to_address, credits=credits)

    try:
        with transaction.atomic():
            withdrawal = Withdrawal.objects.create(
                user=user, to_address=to_address, credits=credits, wei=wei, idempotency_key=key
            )
            ledger_services.withdraw_debit(
                user=user, amount=credits, key=_ledger_key(withdrawal, "debit")
            )
            # Registered inside the block: if it (or the caller's transaction) rolls back, the
            # callback is dropped with it and nothing is sent.
            send = signature(SEND_TASK, args=(withdrawal.pk,))
            transaction.on_commit(send.delay)
    except IntegrityError:
        # A concurrent request with the same key won the insert (and queued the send).
        existing = Withdrawal.objects.filter(user=user, idempotency_key=key).first()
        if existing is None:
            raise
        return _same_or_conflict(existing, to_address=to_address, credits=credits)
    return WithdrawalRequested(withdrawal, created=True)


def _same_or_conflict(
    existing: Withdrawal, *, to_address: str, credits: int
) -> WithdrawalRequested:
    if existing.to_address == to_address and existing.credits == credits:
        return WithdrawalRequested(existing, created=False)
    raise IdempotencyConflict(
        f"idempotency key {existing.idempotency_key!r} was already used for a different "
        f"withdrawal ({existing.credits} credits to {existing.to_address})"
    )


def _ledger_key(withdrawal: Withdrawal, step: str) -> str:
    return f"withdrawal:{withdrawal.pk}:{step}"


def withdrawal_send(*, withdrawal_id: int) -> Withdrawal:
    """Sign (once), broadcast and settle a withdrawal. Safe to call any number of times.

    Returns the withdrawal; status ``sending`` means the transaction is not mined yet and the
    call should be repeated later.
    """
    try:
        with signer_lock():
            withdrawal = _sign_once(withdrawal_id)
            if withdrawal.status != Withdrawal.Status.SENDING:
                return withdrawal  # already sent or failed: nothing more to do
            w3 = get_web3()
            try:
                w3.eth.send_raw_transaction(bytes.fromhex(withdrawal.raw_tx))
            except OSError:
                raise  # transport trouble: the node may or may not have it; retry later
            except Exception as exc:  # refused; the node may still know it from an earlier send
                if not _known_to_node(w3, withdrawal.tx_hash):
                    return _fail(withdrawal.pk, f"the node refused the transaction: {exc}")
    except redis.exceptions.LockError as exc:
        raise SignerBusy(f"the platform key's signer is busy: {exc}") from exc
    try:
        receipt = w3.eth.wait_for_transaction_receipt(withdrawal.tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except TimeExhausted:
        log.info("withdrawal %s: %s not mined yet", withdrawal.pk, withdrawal.tx_hash)
        return withdrawal
    if receipt["status"] != 1:
        return _fail(withdrawal.pk, f"transaction {withdrawal.tx_hash} reverted on chain")
    return _mark_sent(withdrawal.pk)


def _sign_once(withdrawal_id: int) -> Withdrawal:
    with transaction.atomic():
        withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
        if withdrawal.status != Withdrawal.Status.REQUESTED:
            return withdrawal
        w3 = get_web3()
        account = platform_account()
        signed = account.sign_transaction(
            {
                "to": withdrawal.to_address,
                "value": int(withdrawal.wei),
                "gas": GAS_LIMIT,
                "gasPrice": w3.eth.gas_price,
                # "pending" counts our own not-yet-mined transactions, so two withdrawals in a
                # row get consecutive nonces.
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": w3.eth.chain_id,
            }
        )
        withdrawal.raw_tx = bytes(signed.raw_transaction).hex()
        withdrawal.tx_hash = "0x" + bytes(signed.hash).hex()
        withdrawal.status = Withdrawal.Status.SENDING
        withdrawal.save(update_fields=["raw_tx", "tx_hash", "status", "updated"])
    return withdrawal


def _known_to_node(w3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)
    except TransactionNotFound:
        return False
    return True


@transaction.atomic
def _fail(withdrawal_id: int, error: str) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
    if withdrawal.status != Withdrawal.Status.SENDING:
        return withdrawal
    ledger_services.withdraw_return(
        user=withdrawal.user, amount=withdrawal.credits, key=_ledger_key(withdrawal, "return")
    )
    withdrawal.status = Withdrawal.Status.FAILED
    withdrawal.error = error[:2000]
    withdrawal.save(update_fields=["status", "error", "updated"])
    log.warning("withdrawal %s failed, credits returned: %s", withdrawal.pk, error)
    return withdrawal


@transaction.atomic
def _mark_sent(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
    if withdrawal.status != Withdrawal.Status.SENDING:
        return withdrawal
    ledger_services.withdraw_finalize(
        amount=withdrawal.credits, key=_ledger_key(withdrawal, "finalize")
    )
    withdrawal.status = Withdrawal.Status.SENT
    withdrawal.save(update_fields=["status", "updated"])
    return withdrawal
