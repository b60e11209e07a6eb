"""Writes to the credit ledger. Every movement of credits goes through ``transfer``, or through
``settle`` when an escrow is emptied into several accounts at once.

Concurrency: a transfer locks its accounts' rows (SELECT ... FOR UPDATE) in ascending id order,
so two transfers touching the same accounts queue instead of deadlocking, and the balance check
runs on a locked, current balance. SQLite has no row locks; there the write transaction itself is
the lock (settings use BEGIN IMMEDIATE). The database's CHECK constraint on balances is the last
line: a bug here would fail the transaction, never overdraw an account.

Hot system accounts (issue #11): platform revenue, grants and chain deposits, which every match,
grant or deposit touches, are spread over shard rows (``SHARDED_KINDS``). A transfer locks one
shard that no other transaction holds (SELECT ... FOR UPDATE SKIP LOCKED, starting from the
shard its key hashes to, ``shard_of``), so settlements that all pay the platform do not queue on
one row lock; the account's balance is the sum of its shards (``balance``). Grants and chain
deposits are sources and need no balance check. A debit from platform revenue does: it locks all
the shards in id order, sweeps them into shard 0 (``shard_sweep`` transfers) and pays from there,
so its balance check and its play share are those of the whole account.

Idempotency: once the accounts are locked, the transfer is inserted with ON CONFLICT (key) DO
NOTHING; when the key is taken, the transfer holding it is the answer if its content matches, an
IdempotencyConflict if not. A same-key caller that shares our locks committed before we got them;
one on other accounts is waited for by the key's unique index; either way the look-up that follows
(a new statement under READ COMMITTED) sees its transfer. Before a refusal (InsufficientFunds) the
key is looked up too: a same-key caller may have moved the very credits we find missing, and its
transfer is then ours. Refusals are decided before anything is written and raised once the
transfer's block is left, so a nested transfer costs no savepoint and a refusal leaves the
caller's transaction usable.

Play credits and withdrawable credits (issue #10, money that cannot be farmed): each user has a
withdrawable account (kind ``user``: deposits, prizes paid from withdrawable fees) and a play
account (kind ``play``: grants, the starter grant, prizes paid from play fees and subsidies).
Escrows and revenue accounts mix both and store their play part (``Account.play``); each transfer
stores how much of it was play (``Transfer.play``). The rules, all inside this module so callers
above the ledger stay unchanged:
- ``hold`` spends play credits first, then withdrawable ones (two transfers when both are needed:
  the withdrawable one under the caller's key, the play one under ``<key>~play``).
- Credits leaving a mixed account keep its mix: a part of ``a`` credits out of an account that
  holds ``P`` play of ``B`` carries ``ceil(a * P / B)`` play (rounding toward play, so rounding
  never turns play into withdrawable); ``settle``, which empties the escrow, splits its play part
  over the payouts by largest remainder so the parts add up exactly. A payout or refund to a user
  lands in the user's play account for its play part and in the withdrawable account for the rest.
- Rakes to creator or platform revenue are split the same way; only the withdrawable part of
  creator revenue would ever be withdrawable.
So the withdrawable credits leaving an escrow never exceed the withdrawable credits that entered
it, and credits that started as grants can never reach ``withdraw_debit``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Mod
from django.db.transaction import TransactionManagementError

from ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.models import (
    KEY_MAX_LENGTH,
    NONNEGATIVE_BALANCE,
    SHARDED_KINDS,
    SYSTEM_KINDS,
    Account,
    AccountKind,
    Posting,
    Settlement,
    Transfer,
)

__all__ = [
    "user_account",
    "play_account",
    "escrow_account",
    "creator_revenue_account",
    "system_account",
    "system_shards",
    "shard_count",
    "shard_of",
    "transfer",
    "grant",
    "starter_grant",
    "hold",
    "release",
    "creator_revenue_withdraw",
    "subsidize",
    "settle",
    "deposit_credit",
    "withdraw_debit",
    "withdraw_return",
    "withdraw_finalize",
    "balance",
    "user_balance",
    "user_balances",
    "Balances",
]

MAX_AMOUNT = 2**62  # far below bigint's 2**63, so a sum of a few never overflows
REF_MAX_LENGTH = 100
KIND_MAX_LENGTH = 32
MEMO_MAX_LENGTH = 255
SETTLE_KEY_SEP = "#"  # settle's transfers are "<key>#0", "<key>#1", ...
PLAY_KEY_SUFFIX = "~play"  # the play leg of a split movement: "<key>~play"
USER_KINDS = (AccountKind.USER, AccountKind.PLAY)  # a payout to either lands in both
SWEEP_KIND = "shard_sweep"  # a shard's balance moved to shard 0 before a debit


# --- accounts -------------------------------------------------------------------------------


def _require_user(user) -> None:
    if user is None or getattr(user, "pk", None) is None:
        raise LedgerError("a saved user is required")


def user_account(user) -> Account:
    """The user's withdrawable account (deposits, prizes won with withdrawable fees)."""
    _require_user(user)
    account, _ = Account.objects.get_or_create(kind=AccountKind.USER, owner=user)
    return account


def play_account(user) -> Account:
    """The user's play account (grants and prizes of play-funded pots; never withdrawn)."""
    _require_user(user)
    account, _ = Account.objects.get_or_create(kind=AccountKind.PLAY, owner=user)
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


def _check_system_kind(kind) -> None:
    if kind not in SYSTEM_KINDS:
        names = ", ".join(str(k) for k in SYSTEM_KINDS)
        raise LedgerError(f"{kind!r} is not a system account (one of: {names})")


def system_account(kind: str) -> Account:
    """The system account of ``kind``; for a sharded one, its shard 0, which stands for the whole
    account wherever an account is passed (transfers route to the key's shard)."""
    _check_system_kind(kind)
    account, created = Account.objects.get_or_create(kind=kind, shard=0, owner=None, ref="")
    if created and account.is_sharded:
        system_shards(kind)  # the others with it; an account sharded later gets them once busy
    return account


def shard_count() -> int:
    """How many shards a sharded system account spreads over. Lowering it later is safe: reads
    and debits cover every shard row that exists, only new transfers use fewer."""
    return max(1, int(settings.ARENA_LEDGER_SHARDS))


def shard_of(key: str) -> int:
    """The shard a transfer under ``key`` tries first: a stable hash, so concurrent transfers
    spread over the shards. (A retry may still land on another shard when that one is busy: what
    makes it idempotent is its key and fingerprint, not the row.)"""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shard_count()


def system_shards(kind: str) -> list[Account]:
    """Every shard row of the system account ``kind`` (all ``shard_count()`` made if missing),
    by shard; one row for an account that is not sharded."""
    _check_system_kind(kind)
    if kind not in SHARDED_KINDS:
        return [system_account(kind)]
    wanted = [Account(kind=kind, shard=index) for index in range(shard_count())]
    Account.objects.bulk_create(wanted, ignore_conflicts=True)
    return list(Account.objects.filter(kind=kind).order_by("shard"))


def _shard_row(account: Account, key: str) -> Account:
    """The row a transfer under ``key`` moves: the key's shard of a sharded account, else the
    account itself."""
    if not account.is_sharded:
        return account
    index = shard_of(key)
    if account.shard == index:
        return account
    row = Account.objects.filter(kind=account.kind, shard=index).first()
    if row is None:
        # Its first use: make all the shards at once, so the others' first uses need no insert
        # (an insert of a row another open transaction has just inserted waits for its end).
        row = system_shards(account.kind)[index]
    return row


def _lock_shard(account: Account, key: str) -> Account:
    """Lock a shard of the sharded ``account`` for a credit, or a source's debit, under ``key``:
    the key's shard when it is free, else the next free one. SKIP LOCKED never waits while a
    shard is free, so concurrent settlements paying the platform never queue on one another.
    Only when every shard is held does it wait, for the key's shard. Called after the other
    rows are locked; SQLite has no row locks (the write transaction is the lock): the key's."""
    if not connection.features.has_select_for_update_skip_locked:
        return _shard_row(account, key)
    count, start = shard_count(), shard_of(key)
    free = (
        Account.objects.select_for_update(skip_locked=True)
        .filter(kind=account.kind, shard__lt=count)
        .order_by(Mod(F("shard") - start + count, count))
    )
    for row in free[:1]:
        return row
    row = _shard_row(account, key)  # all held, or none made yet (then made here)
    return Account.objects.select_for_update().get(pk=row.pk)


def _identity(account: Account) -> int:
    """The id that names ``account`` in fingerprints: for a sharded account, its shard 0's id,
    which is the id the account had before it was sharded, so transfers made then still match."""
    if account.is_sharded and account.shard:
        return Account.objects.values_list("pk", flat=True).get(kind=account.kind, shard=0)
    return account.pk


def balance(account: Account) -> int:
    """The account's current balance, read from the database (not the possibly stale object);
    for a sharded system account, the sum over its shards."""
    if account.is_sharded:
        found = Account.objects.filter(kind=account.kind).aggregate(total=Sum("balance"))
        return found["total"] or 0
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


@dataclass(frozen=True)
class Balances:
    withdrawable: int
    play: int

    @property
    def total(self) -> int:
        return self.withdrawable + self.play


def user_balances(user) -> Balances:
    """A user's withdrawable and play credits; zeros for a user without accounts (none made)."""
    if user is None or getattr(user, "pk", None) is None:
        return Balances(0, 0)
    found = dict(
        Account.objects.filter(kind__in=USER_KINDS, owner=user).values_list("kind", "balance")
    )
    return Balances(
        withdrawable=found.get(AccountKind.USER, 0), play=found.get(AccountKind.PLAY, 0)
    )


def user_balance(user) -> int:
    """A user's spendable credits (play and withdrawable together): what entry fees and training
    may use; 0 for a user who never had an account (none is created)."""
    return user_balances(user).total


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


def _existing(key: str, fingerprint: str) -> Transfer | IdempotencyConflict | None:
    """The transfer already made under ``key`` if its content matches, the conflict (returned,
    not raised) if it differs, None if the key is free."""
    found = Transfer.objects.filter(key=key).first()
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        return IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different transfer "
            f"({found.amount} from account {found.debit_id} to {found.credit_id}, {found.kind})"
        )
    return found


def _lock_where(condition: Q) -> dict[int, Account]:
    """Lock the accounts matching ``condition`` in ascending id order, the one order every
    caller uses (PostgreSQL locks the rows as the sorted result returns them)."""
    locked = Account.objects.select_for_update().filter(condition).order_by("pk")
    return {a.pk: a for a in locked}


@functools.cache
def _lock_by_ids_sql(count: int, vendor: str) -> str:
    """``_lock``'s statement for ``count`` ids, made once per count and database. Hand-written:
    building the same query through the ORM costs about 0.5 ms of CPU per call (measured, the
    ledger's hottest statement: every transfer runs it), about a quarter of a transfer's CPU."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in Account._meta.concrete_fields)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {columns} FROM {quote(Account._meta.db_table)} "
        f"WHERE {quote(Account._meta.pk.column)} IN ({', '.join(['%s'] * count)}) "
        f"ORDER BY {quote(Account._meta.pk.column)}{lock}"
    )


def _lock(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts' rows in ascending id order (as ``_lock_where`` does)."""
    ids = sorted(set(account_ids))
    if connection.features.has_select_for_update and connection.get_autocommit():
        # The ORM's select_for_update refuses this too: outside a transaction the lock would
        # end with the statement.
        raise TransactionManagementError("ledger accounts are locked inside a transaction only")
    names = [f.attname for f in Account._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(_lock_by_ids_sql(len(ids), connection.vendor), ids)
        rows = cursor.fetchall()
    accounts = {}
    for row in rows:
        account = Account.from_db(connection.alias, names, row)
        accounts[account.pk] = account
    missing = set(ids) - accounts.keys()
    if missing:
        raise LedgerError(f"no such account: {sorted(missing)}")
    return accounts


def _insert_sql(record: models.Model, unique: str) -> tuple[str, list]:
    """INSERT ... ON CONFLICT (<unique>) DO NOTHING RETURNING id for ``record``, and its values.

    Hand-written because the ORM has no insert that skips a taken key and says whether it did
    (bulk_create(ignore_conflicts=True) returns no ids), and catching the IntegrityError of a
    plain insert instead needs a savepoint around it (two more round trips) for the transaction
    to survive it. PostgreSQL and SQLite (3.35+) both run this statement. The values go through
    each field's own preparation (auto_now_add included), as the ORM's insert would."""
    meta = record._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(record, True), connection) for field in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote(meta.get_field(unique).column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    return sql, values


def _inserted(record: models.Model, row: tuple | None) -> bool:
    if row is None:
        return False
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias
    return True


def _insert_unless_taken(record: models.Model, unique: str) -> bool:
    """Insert ``record`` unless its ``unique`` field's value is taken; True when inserted (its
    pk is then set). One statement (``_insert_sql``)."""
    sql, values = _insert_sql(record, unique)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return _inserted(record, cursor.fetchone())


def _insert_transfer_pg(
    made: Transfer, changes: dict[int, tuple[int, int]], *, lock_first: bool = False
) -> dict[int, int] | None:
    """PostgreSQL: insert the transfer (unless its key is taken), its two postings and the two
    balance changes (pk -> (balance, play) added) in one statement, one round trip instead of
    three; the two accounts' new balances (pk -> balance), or None when the key was taken and
    nothing was written. Data-modifying CTEs share one snapshot and all run; the postings and
    the update happen only when the transfer row was inserted. The FK from postings to the
    transfer is checked at the statement's end, when the transfer exists. ``lock_first``: the
    caller holds no lock on the accounts; the statement locks them in id order (the order every
    caller uses) before updating them. Hand-written: the ORM cannot combine statements."""
    insert, values = _insert_sql(made, "key")
    quote = connection.ops.quote_name
    posting, account = quote(Posting._meta.db_table), quote(Account._meta.db_table)
    (a, (a_balance, a_play)), (b, (b_balance, b_play)) = changes.items()
    locked = (
        f"locked AS (SELECT id FROM {account} WHERE id IN (%s, %s) ORDER BY id FOR UPDATE), "
        if lock_first
        else ""
    )
    rows = "IN (SELECT id FROM locked)" if lock_first else "IN (%s, %s)"
    sql = (
        f"WITH {locked}made AS ({insert}), "
        f"postings AS (INSERT INTO {posting} (transfer_id, account_id, amount) "
        "SELECT made.id, v.account, v.amount FROM made, "
        "(VALUES (%s::bigint, %s::bigint), (%s::bigint, %s::bigint)) AS v(account, amount)), "
        f"balances AS (UPDATE {account} SET "
        "balance = balance + CASE WHEN id = %s THEN %s::bigint ELSE %s::bigint END, "
        "play = play + CASE WHEN id = %s THEN %s::bigint ELSE %s::bigint END "
        f"WHERE id {rows} AND EXISTS (SELECT 1 FROM made) RETURNING id, balance) "
        "SELECT made.id, balances.id, balances.balance FROM made CROSS JOIN balances"
    )
    params = [
        *([a, b] if lock_first else []),
        *values,
        *(made.debit_id, -made.amount, made.credit_id, made.amount),
        *(a, a_balance, b_balance, a, a_play, b_play),
        *([] if lock_first else [a, b]),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not _inserted(made, found[0] if found else None):
        return None
    return {pk: balance for _, pk, balance in found}


def _update_balances(before: dict[int, tuple[int, int]], accounts: dict[int, Account]) -> None:
    """Write the balances and play parts of ``accounts`` that changed since ``before`` (pk ->
    (balance, play)), all rows in one statement. The rows are locked, so adding the difference
    is the whole story."""
    changed = {
        pk: (accounts[pk].balance - balance, accounts[pk].play - play)
        for pk, (balance, play) in before.items()
        if (accounts[pk].balance, accounts[pk].play) != (balance, play)
    }
    if not changed:
        return
    Account.objects.filter(pk__in=list(changed)).update(
        balance=F("balance")
        + Case(*[When(pk=pk, then=Value(d)) for pk, (d, _) in changed.items()], default=Value(0)),
        play=F("play")
        + Case(*[When(pk=pk, then=Value(p)) for pk, (_, p) in changed.items()], default=Value(0)),
    )


def transfer(
    *, debit: Account, credit: Account, amount: int, key: str, kind: str, memo: str = ""
) -> Transfer:
    """Move ``amount`` credits from ``debit`` to ``credit``, exactly once per ``key``.

    Same key and same content: the first Transfer, nothing moves. Same key, different content:
    IdempotencyConflict. Not enough credits in a non-source account: InsufficientFunds.
    Atomic, and a refusal writes no transfer, so a caller's transaction stays usable after one
    (a debit from sharded platform revenue may first have swept its shards into shard 0: the
    account's balance is unchanged by that).
    Out of a mixed account (an escrow) the transfer carries the account's mix of play credits;
    play credits never enter a withdrawable account (use ``release``/``settle`` to pay users).
    A sharded system account (``system_account``) is moved on the key's shard.
    """
    return _transfer(debit=debit, credit=credit, amount=amount, key=key, kind=kind, memo=memo)


def _transfer(
    *,
    debit: Account,
    credit: Account,
    amount: int,
    key: str,
    kind: str,
    memo: str = "",
    play: int | None = None,
    locked: dict[int, Account] | None = None,
) -> Transfer:
    """``transfer``, with the play part decided by the caller (None: by the accounts) and, when
    the caller already holds the accounts' locks, its locked rows (``locked``)."""
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
    if debit.pk == credit.pk or (debit.is_sharded and debit.kind == credit.kind):
        raise LedgerError(f"a transfer needs two different accounts, got {debit} twice")

    fingerprint = _fingerprint(
        debit_id=_identity(debit), credit_id=_identity(credit), amount=amount, kind=kind
    )
    move = {"amount": amount, "key": key, "kind": kind, "memo": memo, "fingerprint": fingerprint}
    if _one_statement_applies(debit, credit, play=play, locked=locked):
        outcome = _transfer_in_one_statement(debit, credit, **move)
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome
    # No savepoint: nothing below writes before every refusal is decided, and refusals come back
    # as values, raised once the block is left (a transaction when outermost).
    with transaction.atomic(savepoint=False):
        if debit.is_sharded and not debit.is_source:
            outcome = _transfer_from_shards(debit=debit, credit=credit, play=play, **move)
        else:
            plain = [a.pk for a in (debit, credit) if not a.is_sharded]
            if locked is None or any(pk not in locked for pk in plain):
                locked = _lock(plain)
            rows = []
            for account in (debit, credit):
                row = _lock_shard(account, key) if account.is_sharded else locked[account.pk]
                locked[row.pk] = row
                rows.append(row)
            outcome = _write(*rows, play=play, **move)
        # The callers' objects show the new balances too (they were read before the lock).
        for account in (debit, credit):
            if locked is not None and account.pk in locked:
                account.balance, account.play = locked[account.pk].balance, locked[account.pk].play
    if isinstance(outcome, LedgerError):
        raise outcome
    return outcome


def _one_statement_applies(
    debit: Account, credit: Account, *, play: int | None, locked: dict | None
) -> bool:
    """Whether a transfer can be the one statement of ``_transfer_in_one_statement``: on
    PostgreSQL, outside any transaction (a refusal is then a failed statement, which leaves
    nothing behind; inside a caller's transaction it would need a savepoint, two more round
    trips), between two accounts of one row each whose kinds alone decide the play part."""
    return (
        connection.vendor == "postgresql"
        and play is None
        and locked is None
        and connection.get_autocommit()
        and not any(a.is_sharded or a.is_mixed for a in (debit, credit))
    )


def _transfer_in_one_statement(
    debit: Account, credit: Account, *, amount: int, key: str, kind: str, memo: str, fingerprint
) -> Transfer | LedgerError:
    """``_transfer`` as ONE statement in its own transaction: one round trip where the general
    path makes four (BEGIN, the locking SELECT, the write, COMMIT); about a third of a
    transfer's CPU on both sides (one client in a loop, measured). The same rules hold: the accounts
    are locked in id order before either changes; the transfer, its postings and both balances
    are written only when the key is free; an overdraft is the account's own CHECK constraint
    (no balance below zero but a source's) failing the statement, so nothing is written; a key
    taken by the same content returns that transfer. The callers' objects get the new balances.
    Hand-written: the ORM cannot combine statements (see ``_insert_transfer_pg``)."""
    try:
        play = _play_part(debit, credit, amount, None)  # non-mixed: decided by the kinds
    except LedgerError as exc:
        return exc
    made = Transfer(
        key=key,
        debit_id=debit.pk,
        credit_id=credit.pk,
        amount=amount,
        play=play,
        kind=kind,
        memo=memo,
        fingerprint=fingerprint,
    )
    try:
        balances = _insert_transfer_pg(
            made, {debit.pk: (-amount, 0), credit.pk: (amount, 0)}, lock_first=True
        )
    except IntegrityError as exc:
        if NONNEGATIVE_BALANCE not in str(exc):
            raise
        held = Account.objects.values_list("balance", flat=True).get(pk=debit.pk)
        return _existing(key, fingerprint) or InsufficientFunds(
            f"{debit} holds {held} credits, {amount} are needed"
        )
    if balances is None:  # the key is taken
        return _existing(key, fingerprint) or LedgerError(f"key {key!r} is taken and gone")
    for account in (debit, credit):
        account.balance = balances[account.pk]
    return made


def _write(
    source: Account,
    target: Account,
    *,
    amount: int,
    key: str,
    kind: str,
    memo: str,
    fingerprint: str,
    play: int | None,
) -> Transfer | LedgerError:
    """Make the transfer between two locked rows (their objects updated in place), or return why
    not: a refusal, or the conflict of a taken key. A key taken by the same content returns that
    transfer and moves nothing."""
    refusal = None
    if not source.is_source and source.balance < amount:
        refusal = InsufficientFunds(f"{source} holds {source.balance} credits, {amount} are needed")
    else:
        try:
            play = _play_part(source, target, amount, play)
        except LedgerError as exc:
            refusal = exc
    if refusal is not None:
        # A same-key caller may have committed while we waited for the locks, moving the very
        # credits we now miss: its transfer is ours too.
        return _existing(key, fingerprint) or refusal
    made = Transfer(
        key=key,
        debit_id=source.pk,
        credit_id=target.pk,
        amount=amount,
        play=play,
        kind=kind,
        memo=memo,
        fingerprint=fingerprint,
    )
    before = {a.pk: (a.balance, a.play) for a in (source, target)}
    _apply(source, target, amount, play)
    if connection.vendor == "postgresql":
        changes = {
            a.pk: (a.balance - before[a.pk][0], a.play - before[a.pk][1]) for a in (source, target)
        }
        if _insert_transfer_pg(made, changes) is not None:
            return made
    elif _insert_unless_taken(made, "key"):
        Posting.objects.bulk_create(
            [
                Posting(transfer=made, account_id=source.pk, amount=-amount),
                Posting(transfer=made, account_id=target.pk, amount=amount),
            ]
        )
        _update_balances(before, {source.pk: source, target.pk: target})
        return made
    # The key is taken: nothing was written; the locked objects are put back as they were.
    for account in (source, target):
        account.balance, account.play = before[account.pk]
    return _existing(key, fingerprint) or LedgerError(f"key {key!r} is taken and gone")


def _apply(source: Account, target: Account, amount: int, play: int) -> None:
    """A transfer's effect on the two (locked) objects. Only mixed accounts store a play part;
    a play or withdrawable account's kind says it all."""
    source.balance -= amount
    target.balance += amount
    if source.is_mixed:
        source.play -= play
    if target.is_mixed:
        target.play += play


def _transfer_from_shards(
    *,
    debit: Account,
    credit: Account,
    amount: int,
    key: str,
    kind: str,
    memo: str,
    fingerprint: str,
    play: int | None,
) -> Transfer | LedgerError:
    """A debit from a sharded account that must not go negative (platform revenue): lock every
    shard (and the credited row) in id order, check the total, sweep the other shards into shard
    0 and pay from it, so the balance check and the play share are the whole account's."""
    target_row = _shard_row(credit, key)
    locked = _lock_where(Q(kind=debit.kind) | Q(pk=target_row.pk))
    shards = sorted((a for a in locked.values() if a.kind == debit.kind), key=lambda a: a.shard)
    total = sum(shard.balance for shard in shards)
    if total < amount:
        refusal = InsufficientFunds(
            f"{debit.get_kind_display()} holds {total} credits, {amount} are needed"
        )
        return _existing(key, fingerprint) or refusal
    if (done := _existing(key, fingerprint)) is not None:
        return done  # a retry sweeps nothing
    head = shards[0]
    for shard in shards[1:]:
        if shard.balance:
            # Internal moves within one account: not idempotent operations of their own (the
            # debit's key guards the whole), so each gets a fresh key.
            swept = _write(
                shard,
                head,
                amount=shard.balance,
                key=f"sweep:{uuid.uuid4().hex}",
                kind=SWEEP_KIND,
                memo=f"{debit.get_kind_display()}: shard {shard.shard} swept into shard 0",
                fingerprint=_fingerprint(
                    debit_id=shard.pk, credit_id=head.pk, amount=shard.balance, kind=SWEEP_KIND
                ),
                play=shard.play,
            )
            if isinstance(swept, LedgerError):
                return swept
    return _write(
        head,
        locked[target_row.pk],
        amount=amount,
        key=key,
        kind=kind,
        memo=memo,
        fingerprint=fingerprint,
        play=play,
    )


def _implied_play(account: Account, amount: int) -> int | None:
    """The play part a transfer touching ``account`` must carry; None when it may mix."""
    if account.is_play:
        return amount
    if account.is_mixed:
        return None
    return 0


def _share(amount: int, play: int, balance: int) -> int:
    """The play part of ``amount`` credits out of ``balance`` that holds ``play``: rounded up,
    toward play, so a rounding never turns play credits into withdrawable ones."""
    if balance <= 0:
        return 0
    return min(play, amount, -(-amount * play // balance))


def _play_part(source: Account, target: Account, amount: int, play: int | None) -> int:
    """Decide (or check the caller's) play part of a transfer between two locked accounts."""
    out_part = _implied_play(source, amount)
    in_part = _implied_play(target, amount)
    if play is None:
        if out_part is not None:
            play = out_part
        elif in_part is not None:
            play = in_part
        else:
            play = _share(amount, source.play, source.balance)
    if out_part is not None and play != out_part or in_part is not None and play != in_part:
        if in_part == 0 and play:
            raise LedgerError(
                f"{play} of these credits are play credits and cannot go to {target}, "
                "which holds only withdrawable credits"
            )
        raise LedgerError(f"{target} holds only play credits; {amount - play} are withdrawable")
    if source.is_mixed and (play > source.play or amount - play > source.withdrawable_part):
        raise InsufficientFunds(
            f"{source} holds {source.play} play and {source.withdrawable_part} withdrawable "
            f"credits; {play} play and {amount - play} withdrawable are needed"
        )
    return play


# --- movements of two legs: play and withdrawable ------------------------------------------


def _split_replay(key: str, *, amount: int, kind: str, pairs: set[tuple[int, int]]):
    """The movement already made under ``key`` (its legs ``key`` and ``key~play``), if its
    total and accounts match; IdempotencyConflict if they differ; None if none was made."""
    legs = {t.key: t for t in Transfer.objects.filter(key__in=[key, key + PLAY_KEY_SUFFIX])}
    if not legs:
        return None
    same = sum(t.amount for t in legs.values()) == amount and all(
        (t.debit_id, t.credit_id) in pairs and t.kind == kind for t in legs.values()
    )
    if not same:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different {kind} of credits"
        )
    return legs.get(key) or legs[key + PLAY_KEY_SUFFIX]


def _check_split_key(key) -> None:
    _check_key(key)
    if len(key) > KEY_MAX_LENGTH - len(PLAY_KEY_SUFFIX):
        limit = KEY_MAX_LENGTH - len(PLAY_KEY_SUFFIX)
        raise LedgerError(f"an idempotency key is at most {limit} characters")


def _pay_user_legs(
    *,
    source: Account,
    wallet: Account,
    play_to: Account,
    amount: int,
    play: int,
    key: str,
    kind: str,
    memo: str,
    locked: dict[int, Account],
) -> list[Transfer]:
    """Pay ``amount`` from a locked mixed ``source`` to a user: its ``play`` part into the play
    account ``play_to`` (key ``<key>~play``), the rest into ``wallet`` (key ``<key>``)."""
    common = {"debit": source, "kind": kind, "memo": memo, "locked": locked}
    legs = []
    if amount - play:
        legs.append(_transfer(credit=wallet, amount=amount - play, key=key, play=0, **common))
    if play:
        play_key = key + PLAY_KEY_SUFFIX
        legs.append(_transfer(credit=play_to, amount=play, key=play_key, play=play, **common))
    return legs


# --- named movements ------------------------------------------------------------------------


@transaction.atomic
def grant(*, user, amount: int, key: str, memo: str = "") -> Transfer:
    """Free credits for a user (sign-up bonus, staff grant): grants -> the user's play account.
    Granted credits pay fees and training but can never be withdrawn."""
    return transfer(
        debit=system_account(AccountKind.GRANTS),
        credit=play_account(user),
        amount=amount,
        key=key,
        kind="grant",
        memo=memo,
    )


STARTER_GRANT_MEMO = "starter grant: play credits to enter your first matches"


@transaction.atomic
def starter_grant(*, user) -> Transfer | None:
    """The new player's ``ARENA_STARTER_GRANT`` play credits, once per user (the key is the
    user's id, so a second call is a replay); None when the setting is 0."""
    amount = settings.ARENA_STARTER_GRANT
    if not amount:
        return None
    _require_user(user)
    return grant(user=user, amount=amount, key=f"starter:{user.pk}", memo=STARTER_GRANT_MEMO)


@transaction.atomic
def hold(*, user, escrow_ref: str, amount: int, key: str) -> Transfer:
    """An entry fee into escrow: play credits first, then withdrawable ones.

    Up to two transfers: ``key`` from the withdrawable account, ``<key>~play`` from the play
    account; returns the first of them that exists. Not enough in both together:
    InsufficientFunds and nothing moves.
    """
    _check_amount(amount)
    _check_split_key(key)
    wallet, play, escrow = user_account(user), play_account(user), escrow_account(escrow_ref)
    pairs = {(wallet.pk, escrow.pk), (play.pk, escrow.pk)}
    locked = _lock([wallet.pk, play.pk, escrow.pk])
    # Under the locks: a same-key caller on these accounts has committed by now.
    if (done := _split_replay(key, amount=amount, kind="hold", pairs=pairs)) is not None:
        return done
    from_play = min(amount, locked[play.pk].balance)
    from_wallet = amount - from_play
    if from_wallet > locked[wallet.pk].balance:
        have_play, have_wallet = locked[play.pk].balance, locked[wallet.pk].balance
        raise InsufficientFunds(
            f"{user} holds {have_play + have_wallet} credits ({have_play} play, {have_wallet} "
            f"withdrawable), {amount} are needed"
        )
    memo = f"held in {escrow_ref}"
    legs = []
    if from_wallet:
        legs.append(
            _transfer(
                debit=wallet,
                credit=escrow,
                amount=from_wallet,
                key=key,
                kind="hold",
                memo=memo,
                locked=locked,
            )
        )
    if from_play:
        legs.append(
            _transfer(
                debit=play,
                credit=escrow,
                amount=from_play,
                key=key + PLAY_KEY_SUFFIX,
                kind="hold",
                memo=memo,
                locked=locked,
            )
        )
    return legs[0]


@transaction.atomic
def release(*, user, escrow_ref: str, amount: int, key: str) -> Transfer:
    """A refund out of escrow to a user, keeping the escrow's mix: its share of the escrow's play
    part goes back to the play account (``<key>~play``), the rest to the withdrawable one.

    A per-entry escrow holds one user's fee, so the parts return exactly where they came from;
    from a pooled match escrow each refund takes the pool's proportion.
    """
    _check_amount(amount)
    _check_split_key(key)
    wallet, play, escrow = user_account(user), play_account(user), escrow_account(escrow_ref)
    pairs = {(escrow.pk, wallet.pk), (escrow.pk, play.pk)}
    locked = _lock([wallet.pk, play.pk, escrow.pk])
    if (done := _split_replay(key, amount=amount, kind="release", pairs=pairs)) is not None:
        return done
    pot = locked[escrow.pk]
    if pot.balance < amount:
        raise InsufficientFunds(f"{pot} holds {pot.balance} credits, {amount} are needed")
    legs = _pay_user_legs(
        source=escrow,
        wallet=wallet,
        play_to=play,
        locked=locked,
        amount=amount,
        play=_share(amount, pot.play, pot.balance),
        key=key,
        kind="release",
        memo=f"released from {escrow_ref}",
    )
    return legs[0]


@transaction.atomic
def creator_revenue_withdraw(*, user, amount: int, key: str) -> list[Transfer]:
    """Move ``amount`` of a creator's revenue to her own balances, keeping its mix: the revenue
    account's share of play credits goes to her play account (``<key>~play``), the rest to her
    withdrawable account, from where it is withdrawn like any deposit. Exactly once per key;
    InsufficientFunds when the revenue holds less."""
    _check_amount(amount)
    _check_split_key(key)
    wallet, play = user_account(user), play_account(user)
    revenue = creator_revenue_account(user)
    kind = "creator_revenue"
    pairs = {(revenue.pk, wallet.pk), (revenue.pk, play.pk)}
    locked = _lock([wallet.pk, play.pk, revenue.pk])
    if _split_replay(key, amount=amount, kind=kind, pairs=pairs) is not None:
        return list(Transfer.objects.filter(key__in=[key, key + PLAY_KEY_SUFFIX]))
    held = locked[revenue.pk]
    if held.balance < amount:
        raise InsufficientFunds(f"your creator revenue holds {held.balance} credits, not {amount}")
    return _pay_user_legs(
        source=revenue,
        wallet=wallet,
        play_to=play,
        locked=locked,
        amount=amount,
        play=_share(amount, held.play, held.balance),
        key=key,
        kind=kind,
        memo="creator revenue moved to the creator's balance",
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
    """A withdrawal requested: user -> pending_withdrawals, until the ether is sent or fails.
    Only the withdrawable account pays: play credits are never withdrawn."""
    try:
        return transfer(
            debit=user_account(user),
            credit=system_account(AccountKind.PENDING_WITHDRAWALS),
            amount=amount,
            key=key,
            kind="withdrawal",
            memo="withdrawal requested",
        )
    except InsufficientFunds:
        raise InsufficientFunds(withdrawable_shortfall(user, amount)) from None


def withdrawable_shortfall(user, amount: int) -> str:
    """Why ``amount`` cannot be withdrawn, in words fit to show."""
    have = user_balances(user)
    message = f"you have {have.withdrawable} withdrawable credits and asked to withdraw {amount}"
    if have.play:
        message += f"; your {have.play} play credits cannot be withdrawn"
    return message


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
    identities = _identities([account for account, _ in payouts])
    content = {"escrow": escrow.pk, "payouts": [[identities[a.pk], n] for a, n in payouts]}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _identities(accounts: Iterable[Account]) -> dict[int, int]:
    """``_identity`` of each account by pk, with at most one look-up per sharded kind (callers
    pass shard 0, which needs none)."""
    heads: dict[str, int] = {}
    found = {}
    for account in accounts:
        if account.is_sharded and account.shard:
            if account.kind not in heads:
                heads[account.kind] = _identity(account)
            found[account.pk] = heads[account.kind]
        else:
            found[account.pk] = account.pk
    return found


def _settle_replay(key: str, fingerprint: str, count: int) -> list[Transfer] | None:
    found = Settlement.objects.filter(key=key).first()
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"settlement {key!r} of {found.escrow} was already made with different payouts"
        )
    keys = [f"{key}{SETTLE_KEY_SEP}{index}" for index in range(count)]
    wanted = keys + [k + PLAY_KEY_SUFFIX for k in keys]
    made = Transfer.objects.in_bulk(wanted, field_name="key")
    # A payout to a user may have been paid in play credits only: then its play leg stands for it.
    return [made.get(k) or made[k + PLAY_KEY_SUFFIX] for k in keys]


def split_play(amounts: Sequence[int], *, play: int, total: int) -> list[int]:
    """Split an escrow's ``play`` part (of ``total`` credits) over payouts ``amounts`` summing
    to ``total``: each gets ``amount * play / total`` rounded down, and the credits the rounding
    left go one each to the largest remainders (the earlier payout on a tie). Exact: the parts
    sum to ``play`` and none exceeds its payout."""
    if total <= 0 or not play:
        return [0] * len(amounts)
    parts = [amount * play // total for amount in amounts]
    remainders = [amount * play % total for amount in amounts]
    left = play - sum(parts)
    for index in sorted(range(len(amounts)), key=lambda i: (-remainders[i], i))[:left]:
        parts[index] += 1
    return parts


@dataclass
class _Payees:
    """The locked rows a settlement moves: by pk, each user's two accounts by owner, and the
    shard of each sharded account paid, by kind."""

    locked: dict[int, Account]
    wallets: dict[int, Account]
    plays: dict[int, Account]
    shards: dict[str, Account]


def _lock_settlement(escrow: Account, payouts: list[tuple[Account, int]], keys: list[str]):
    """Lock the escrow and every row the payouts may move: in one statement and id order, the
    escrow and the payees (a user's payout may land in either of their accounts, so both);
    then, for each sharded account paid (platform revenue), a free shard (``_lock_shard``)
    that all its payouts use. Locking the escrow first and payees one by one later could
    deadlock against a hold that locks a payee, then the escrow; a shard is taken without
    waiting. A user's accounts that do not exist yet are made, then all are locked again
    (those held stay held)."""
    owners = sorted({a.owner_id for a, _ in payouts if a.kind in USER_KINDS})
    direct = {escrow.pk} | {a.pk for a, _ in payouts if a.kind not in USER_KINDS + SHARDED_KINDS}
    condition = Q(pk__in=sorted(direct))
    if owners:
        condition |= Q(kind__in=USER_KINDS, owner_id__in=owners)

    def found(locked: dict[int, Account]) -> _Payees:
        payees = _Payees(locked, {}, {}, {})
        for account in locked.values():
            if account.kind == AccountKind.USER and account.owner_id in owners:
                payees.wallets[account.owner_id] = account
            elif account.kind == AccountKind.PLAY and account.owner_id in owners:
                payees.plays[account.owner_id] = account
        return payees

    payees = found(_lock_where(condition))
    missing = []
    for kind, have in ((AccountKind.USER, payees.wallets), (AccountKind.PLAY, payees.plays)):
        missing += [Account(kind=kind, owner_id=owner) for owner in owners if owner not in have]
    if missing:
        Account.objects.bulk_create(missing, ignore_conflicts=True)
        payees = found(_lock_where(condition))
    if absent := direct - payees.locked.keys():
        raise LedgerError(f"no such account: {sorted(absent)}")
    sharded = {}  # kind -> (the payee, its first leg's key)
    for (account, _), leg_key in zip(payouts, keys, strict=True):
        if account.is_sharded:
            sharded.setdefault(account.kind, (account, leg_key))
    for kind, (account, leg_key) in sorted(sharded.items()):
        row = _lock_shard(account, leg_key)
        payees.shards[kind] = payees.locked[row.pk] = row
    return payees


@transaction.atomic
def settle(*, escrow_ref: str, payouts: list[tuple[Account, int]], key: str) -> list[Transfer]:
    """Empty an escrow into several accounts, exactly once per ``key``.

    The amounts must add up to the escrow's balance exactly, else LedgerError and nothing moves.
    A retry with the same payouts returns the first transfers (one per payout).
    Each payout carries its share of the escrow's play part (``split_play``); a payout to a user
    (either of their accounts) pays that share into the play account (``<key>#<i>~play``) and
    the rest into the withdrawable one (``<key>#<i>``); a payout to a sharded system account
    lands in a shard no other transaction holds (``_lock_shard``).

    A fixed number of statements whatever the number of payouts: one lock of the escrow and the
    payees (and one of a shard per sharded account paid), one insert of the settlement (its key
    taken: the replay), one insert of all the transfers, one of all their postings and one
    update of all the balances.
    """
    _check_key(key)
    limit = KEY_MAX_LENGTH - 8 - len(PLAY_KEY_SUFFIX)
    if SETTLE_KEY_SEP in key or len(key) > limit:
        raise LedgerError(
            f"a settlement key has no {SETTLE_KEY_SEP!r} and at most {limit} characters"
        )
    payouts = _check_payouts(payouts)
    escrow = escrow_account(escrow_ref)
    if any(account.pk == escrow.pk for account, _ in payouts):
        raise LedgerError(f"an escrow cannot pay itself ({escrow})")
    fingerprint = _settle_fingerprint(escrow, payouts)
    keys = [f"{key}{SETTLE_KEY_SEP}{index}" for index in range(len(payouts))]
    payees = _lock_settlement(escrow, payouts, keys)
    total = sum(amount for _, amount in payouts)
    settlement = Settlement(key=key, escrow=escrow, total=total, fingerprint=fingerprint)
    # Under the escrow's lock a same-key settlement of this escrow has committed; one of another
    # escrow is waited for by the key's unique index. A raise below rolls this insert back.
    if not _insert_unless_taken(settlement, "key"):
        return _settle_replay(key, fingerprint, len(payouts))
    pot = payees.locked[escrow.pk]
    if total != pot.balance:
        raise LedgerError(f"payouts add up to {total} but {escrow} holds {pot.balance}")
    plays = split_play([amount for _, amount in payouts], play=pot.play, total=pot.balance)
    before = {pk: (a.balance, a.play) for pk, a in payees.locked.items()}
    identities = _identities([account for account, _ in payouts])
    memo = f"settlement of {escrow_ref}"
    made, first = [], []
    for (account, amount), play, leg_key in zip(payouts, plays, keys, strict=True):
        if account.kind in USER_KINDS:
            wallet, play_to = payees.wallets[account.owner_id], payees.plays[account.owner_id]
            legs = [
                (wallet, amount - play, 0, leg_key, wallet.pk),
                (play_to, play, play, leg_key + PLAY_KEY_SUFFIX, play_to.pk),
            ]
            legs = [leg for leg in legs if leg[1]]  # a part of 0 credits makes no transfer
        elif account.is_sharded:
            target = payees.shards[account.kind]
            legs = [(target, amount, play, leg_key, identities[account.pk])]
        else:
            legs = [(payees.locked[account.pk], amount, play, leg_key, account.pk)]
        for index, (target, leg_amount, leg_play, leg_key_, identity) in enumerate(legs):
            leg_play = _play_part(pot, target, leg_amount, leg_play)
            _apply(pot, target, leg_amount, leg_play)
            leg = Transfer(
                key=leg_key_,
                debit_id=pot.pk,
                credit_id=target.pk,
                amount=leg_amount,
                play=leg_play,
                kind="payout",
                memo=memo,
                fingerprint=_fingerprint(
                    debit_id=escrow.pk, credit_id=identity, amount=leg_amount, kind="payout"
                ),
            )
            made.append(leg)
            if index == 0:
                first.append(leg)
    Transfer.objects.bulk_create(made)  # the keys <key>#<i> are new: the settlement's is
    Posting.objects.bulk_create(
        [
            posting
            for leg in made
            for posting in (
                Posting(transfer=leg, account_id=leg.debit_id, amount=-leg.amount),
                Posting(transfer=leg, account_id=leg.credit_id, amount=leg.amount),
            )
        ]
    )
    _update_balances(before, payees.locked)
    # The callers' objects show the new balances too (they were read before the lock).
    for account in [escrow, *(a for a, _ in payouts)]:
        if account.pk in payees.locked:
            account.balance = payees.locked[account.pk].balance
            account.play = payees.locked[account.pk].play
    return first
