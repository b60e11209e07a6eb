"""Writes to the credit ledger. Every movement of credits goes through ``transfer``.

Concurrency: a transfer locks both accounts' rows (SELECT ... FOR UPDATE) in ascending id order,
so two transfers touching the same accounts queue instead of deadlocking, and the balance check
runs on a locked, current balance. SQLite has no row locks; there the write transaction itself is
the lock (settings use BEGIN IMMEDIATE). The database's CHECK constraint on balances is the last
line: a bug here would fail the transaction, never overdraw an account.

Idempotency: the key is looked up first (a retry then costs one read and takes no lock), and
again once the accounts are locked: a concurrent caller with the same key may have committed
while we waited for its locks, and its transfer is then the answer (not InsufficientFunds for the
credits it moved). A same-key caller on other accounts shares no lock and may commit between that
second look and our insert; then the unique index refuses our insert: the transfer's own atomic
block (a savepoint when nested) rolls back and the winner's transfer is read back and compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When

from ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.models import (
    KEY_MAX_LENGTH,
    SYSTEM_KINDS,
    Account,
    AccountKind,
    Posting,
    Settlement,
    Transfer,
)

__all__ = [
    "user_account",
    "escrow_account",
    "creator_revenue_account",
    "system_account",
    "transfer",
    "grant",
    "hold",
    "release",
    "subsidize",
    "settle",
    "deposit_credit",
    "withdraw_debit",
    "withdraw_return",
    "withdraw_finalize",
    "balance",
    "user_balance",
]

MAX_AMOUNT = 2**62  # far below bigint's 2**63, so a sum of a few never overflows
REF_MAX_LENGTH = 100
KIND_MAX_LENGTH = 32
MEMO_MAX_LENGTH = 255
SETTLE_KEY_SEP = "#"  # settle's transfers are "<key>#0", "<key>#1", ...


# --- accounts -------------------------------------------------------------------------------


def _require_user(user) -> None:
    if user is None or getattr(user, "pk", None) is None:
        raise LedgerError("a saved user is required")


def user_account(user) -> Account:
    _require_user(user)
    account, _ = Account.objects.get_or_create(kind=AccountKind.USER, owner=user)
    return account


def creator_revenue_account(user) -> Account:
    _require_user(user)
    account, _ = Account.objects.get_or_create(kind=AccountKind.CREATOR_REVENUE, owner=user)
    return account


def escrow_account(ref: str) -> Account:
    if not isinstance(ref, str) or not ref.strip() or len(ref) > REF_MAX_LENGTH:
        raise LedgerError(f"an escrow ref is 1 to {REF_MAX_LENGTH} characters, got {ref!r}")
    account, _ = Account.objects.get_or_create(kind=AccountKind.ESCROW, ref=ref)
    return account


def system_account(kind: str) -> Account:
    if kind not in SYSTEM_KINDS:
        names = ", ".join(str(k) for k in SYSTEM_KINDS)
        raise LedgerError(f"{kind!r} is not a system account (one of: {names})")
    account, _ = Account.objects.get_or_create(kind=kind, owner=None, ref="")
    return account


def balance(account: Account) -> int:
    """The account's current balance, read from the database (not the possibly stale object)."""
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def user_balance(user) -> int:
    """A user's spendable credits; 0 for a user who never had an account (none is created)."""
    found = (
        Account.objects.filter(kind=AccountKind.USER, owner=user)
        .values_list("balance", flat=True)
        .first()
    )
    return found or 0


# --- the one primitive ----------------------------------------------------------------------


def _check_amount(amount) -> None:
    # bool is an int subclass, and a float that happens to be whole is still not money.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LedgerError(f"an amount is a whole number of credits, got {amount!r}")
    if amount <= 0:
        raise LedgerError(f"an amount must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise LedgerError(f"an amount must be at most {MAX_AMOUNT}, got {amount}")


def _check_key(key) -> None:
    if not isinstance(key, str) or not key.strip():
        raise LedgerError("an idempotency key (a non-empty string) is required")
    if len(key) > KEY_MAX_LENGTH:
        raise LedgerError(f"an idempotency key is at most {KEY_MAX_LENGTH} characters")


def _fingerprint(*, debit_id: int, credit_id: int, amount: int, kind: str) -> str:
    # What moves defines "the same transfer"; the memo is a note and may differ on a retry.
    content = {"amount": amount, "credit": credit_id, "debit": debit_id, "kind": kind}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _replay(key: str, fingerprint: str) -> Transfer | None:
    """The transfer already made under ``key``, if its content matches; conflict if it differs."""
    found = Transfer.objects.filter(key=key).first()
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different transfer "
            f"({found.amount} from account {found.debit_id} to {found.credit_id}, {found.kind})"
        )
    return found


def _lock(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts' rows in ascending id order, the one order every caller uses."""
    ids = sorted(set(account_ids))
    locked = Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    accounts = {a.pk: a for a in locked}
    missing = set(ids) - accounts.keys()
    if missing:
        raise LedgerError(f"no such account: {sorted(missing)}")
    return accounts


def transfer(
    *, debit: Account, credit: Account, amount: int, key: str, kind: str, memo: str = ""
) -> Transfer:
    """Move ``amount`` credits from ``debit`` to ``credit``, exactly once per ``key``.

    Same key and same content: the first Transfer, nothing moves. Same key, different content:
    IdempotencyConflict. Not enough credits in a non-source account: InsufficientFunds.
    Atomic: inside a caller's transaction it runs in a savepoint, so a refusal spoils nothing.
    """
    _check_amount(amount)
    _check_key(key)
    if not isinstance(kind, str) or not kind or len(kind) > KIND_MAX_LENGTH:
        raise LedgerError(f"a transfer kind is 1 to {KIND_MAX_LENGTH} characters")
    if not isinstance(memo, str) or len(memo) > MEMO_MAX_LENGTH:
        raise LedgerError(f"a memo is a string of at most {MEMO_MAX_LENGTH} characters")
    if not isinstance(debit, Account) or not isinstance(credit, Account):
        raise LedgerError("debit and credit must be ledger accounts")
    if debit.pk is None or credit.pk is None:
        raise LedgerError("debit and credit must be saved accounts")
    if debit.pk == credit.pk:
        raise LedgerError(f"a transfer needs two different accounts, got {debit} twice")

    fingerprint = _fingerprint(debit_id=debit.pk, credit_id=credit.pk, amount=amount, kind=kind)
    try:
        # The outermost block is a transaction, a nested one a savepoint: either way, losing the
        # key race below rolls back only this transfer, and the caller can read the winner's.
        with transaction.atomic():
            return _transfer_once(
                debit=debit,
                credit=credit,
                amount=amount,
                key=key,
                kind=kind,
                memo=memo,
                fingerprint=fingerprint,
            )
    except IntegrityError:
        # Another caller inserted the same key after our look under the locks: it shared none
        # of our locks, so its content differs (a conflict, below). A backstop, seldom reached.
        if (done := _replay(key, fingerprint)) is not None:
            return done
        raise


def _transfer_once(
    *,
    debit: Account,
    credit: Account,
    amount: int,
    key: str,
    kind: str,
    memo: str,
    fingerprint: str,
) -> Transfer:
    if (done := _replay(key, fingerprint)) is not None:
        return done  # a retry: one read, no lock
    accounts = _lock([debit.pk, credit.pk])
    # Look again now that we hold the locks: a same-key caller may have committed while we
    # waited for them, and its transfer is ours too (checking funds first would refuse it, as
    # the credits it moved are gone). Under READ COMMITTED this new statement sees that commit.
    if (done := _replay(key, fingerprint)) is not None:
        return done
    source = accounts[debit.pk]
    if not source.is_source and source.balance < amount:
        raise InsufficientFunds(f"{source} holds {source.balance} credits, {amount} are needed")
    made = Transfer.objects.create(
        key=key,
        debit_id=debit.pk,
        credit_id=credit.pk,
        amount=amount,
        kind=kind,
        memo=memo,
        fingerprint=fingerprint,
    )
    Posting.objects.bulk_create(
        [
            Posting(transfer=made, account_id=debit.pk, amount=-amount),
            Posting(transfer=made, account_id=credit.pk, amount=amount),
        ]
    )
    # Both balances in one statement; the rows are locked, so this is the whole story.
    Account.objects.filter(pk__in=[debit.pk, credit.pk]).update(
        balance=F("balance") + Case(When(pk=debit.pk, then=Value(-amount)), default=Value(amount))
    )
    # The callers' objects now show the new balances too (they were read before the lock).
    debit.balance = accounts[debit.pk].balance - amount
    credit.balance = accounts[credit.pk].balance + amount
    return made


# --- named movements ------------------------------------------------------------------------


@transaction.atomic
def grant(*, user, amount: int, key: str, memo: str = "") -> Transfer:
    """Free credits for a user (sign-up bonus, staff grant): grants -> user."""
    return transfer(
        debit=system_account(AccountKind.GRANTS),
        credit=user_account(user),
        amount=amount,
        key=key,
        kind="grant",
        memo=memo,
    )


@transaction.atomic
def hold(*, user, escrow_ref: str, amount: int, key: str) -> Transfer:
    """An entry fee into escrow: user -> escrow."""
    return transfer(
        debit=user_account(user),
        credit=escrow_account(escrow_ref),
        amount=amount,
        key=key,
        kind="hold",
        memo=f"held in {escrow_ref}",
    )


@transaction.atomic
def release(*, user, escrow_ref: str, amount: int, key: str) -> Transfer:
    """A refund out of escrow: escrow -> user."""
    return transfer(
        debit=escrow_account(escrow_ref),
        credit=user_account(user),
        amount=amount,
        key=key,
        kind="release",
        memo=f"released from {escrow_ref}",
    )


@transaction.atomic
def subsidize(*, escrow_ref: str, amount: int, key: str) -> Transfer:
    """A sponsor's subsidy added to a pot: grants -> escrow."""
    return transfer(
        debit=system_account(AccountKind.GRANTS),
        credit=escrow_account(escrow_ref),
        amount=amount,
        key=key,
        kind="subsidy",
        memo=f"subsidy for {escrow_ref}",
    )


@transaction.atomic
def deposit_credit(*, user, amount: int, key: str, memo: str = "") -> Transfer:
    """Credits for ether received on chain: chain_deposits -> user."""
    return transfer(
        debit=system_account(AccountKind.CHAIN_DEPOSITS),
        credit=user_account(user),
        amount=amount,
        key=key,
        kind="deposit",
        memo=memo,
    )


@transaction.atomic
def withdraw_debit(*, user, amount: int, key: str) -> Transfer:
    """A withdrawal requested: user -> pending_withdrawals, until the ether is sent or fails."""
    return transfer(
        debit=user_account(user),
        credit=system_account(AccountKind.PENDING_WITHDRAWALS),
        amount=amount,
        key=key,
        kind="withdrawal",
        memo="withdrawal requested",
    )


@transaction.atomic
def withdraw_return(*, user, amount: int, key: str) -> Transfer:
    """The send failed: pending_withdrawals -> user."""
    return transfer(
        debit=system_account(AccountKind.PENDING_WITHDRAWALS),
        credit=user_account(user),
        amount=amount,
        key=key,
        kind="withdrawal_return",
        memo="withdrawal failed, returned",
    )


@transaction.atomic
def withdraw_finalize(*, amount: int, key: str) -> Transfer:
    """The ether was sent: pending_withdrawals -> chain_deposits.

    chain_deposits is the ledger's side of the platform's on-chain wallet: its balance is minus
    the credits issued against ether. Ether paid out takes those credits back out of circulation,
    so they return there, and the sum over all accounts stays zero.
    """
    return transfer(
        debit=system_account(AccountKind.PENDING_WITHDRAWALS),
        credit=system_account(AccountKind.CHAIN_DEPOSITS),
        amount=amount,
        key=key,
        kind="withdrawal_sent",
        memo="withdrawal sent on chain",
    )


# --- settlement -----------------------------------------------------------------------------


def _check_payouts(payouts: Sequence[tuple[Account, int]]) -> list[tuple[Account, int]]:
    if isinstance(payouts, (str, bytes)) or not isinstance(payouts, Sequence):
        raise LedgerError("payouts must be a list of (account, amount) pairs")
    checked = []
    for item in payouts:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise LedgerError(f"a payout is an (account, amount) pair, got {item!r}")
        account, amount = item
        if not isinstance(account, Account) or account.pk is None:
            raise LedgerError(f"a payout goes to a saved ledger account, got {account!r}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise LedgerError(f"a payout amount is a whole number >= 0, got {amount!r}")
        if amount:  # a zero share moves nothing and leaves no transfer
            checked.append((account, amount))
    return checked


def _settle_fingerprint(escrow: Account, payouts: list[tuple[Account, int]]) -> str:
    content = {"escrow": escrow.pk, "payouts": [[a.pk, amount] for a, amount in payouts]}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _settle_replay(key: str, fingerprint: str, count: int) -> list[Transfer] | None:
    found = Settlement.objects.filter(key=key).first()
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"settlement {key!r} of {found.escrow} was already made with different payouts"
        )
    keys = [f"{key}{SETTLE_KEY_SEP}{index}" for index in range(count)]
    made = Transfer.objects.in_bulk(keys, field_name="key")
    return [made[k] for k in keys]


@transaction.atomic
def settle(*, escrow_ref: str, payouts: list[tuple[Account, int]], key: str) -> list[Transfer]:
    """Empty an escrow into several accounts, exactly once per ``key``.

    The amounts must add up to the escrow's balance exactly, else LedgerError and nothing moves.
    A retry with the same payouts returns the first transfers.
    """
    _check_key(key)
    if SETTLE_KEY_SEP in key or len(key) > KEY_MAX_LENGTH - 8:
        limit = KEY_MAX_LENGTH - 8
        raise LedgerError(
            f"a settlement key has no {SETTLE_KEY_SEP!r} and at most {limit} characters"
        )
    payouts = _check_payouts(payouts)
    escrow = escrow_account(escrow_ref)
    if any(account.pk == escrow.pk for account, _ in payouts):
        raise LedgerError(f"an escrow cannot pay itself ({escrow})")
    fingerprint = _settle_fingerprint(escrow, payouts)
    if (done := _settle_replay(key, fingerprint, len(payouts))) is not None:
        return done
    # Lock the escrow and every payee together, in id order: locking the escrow first and the
    # payees one by one later could deadlock against a hold that locks a payee, then the escrow.
    accounts = _lock([escrow.pk, *(account.pk for account, _ in payouts)])
    if (done := _settle_replay(key, fingerprint, len(payouts))) is not None:
        return done
    pot = accounts[escrow.pk].balance
    total = sum(amount for _, amount in payouts)
    if total != pot:
        raise LedgerError(f"payouts add up to {total} but {escrow} holds {pot}")
    try:
        with transaction.atomic():  # a savepoint, as in transfer: the key race's loser re-reads
            Settlement.objects.create(key=key, escrow=escrow, total=total, fingerprint=fingerprint)
    except IntegrityError:
        if (done := _settle_replay(key, fingerprint, len(payouts))) is not None:
            return done
        raise
    return [
        transfer(
            debit=escrow,
            credit=account,
            amount=amount,
            key=f"{key}{SETTLE_KEY_SEP}{index}",
            kind="payout",
            memo=f"settlement of {escrow_ref}",
        )
        for index, (account, amount) in enumerate(payouts)
    ]
