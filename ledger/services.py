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

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
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
    "play_account",
    "escrow_account",
    "creator_revenue_account",
    "system_account",
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


def system_account(kind: str) -> Account:
    if kind not in SYSTEM_KINDS:
        names = ", ".join(str(k) for k in SYSTEM_KINDS)
        raise LedgerError(f"{kind!r} is not a system account (one of: {names})")
    account, _ = Account.objects.get_or_create(kind=kind, owner=None, ref="")
    return account


def balance(account: Account) -> int:
    """The account's current balance, read from the database (not the possibly stale object)."""
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
        Account.objects.filter(
            kind__in=[AccountKind.USER, AccountKind.PLAY], owner=user
        ).values_list("kind", "balance")
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
    Out of a mixed account (an escrow) the transfer carries the account's mix of play credits;
    play credits never enter a withdrawable account (use ``release``/``settle`` to pay users).
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
) -> Transfer:
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
                play=play,
            )
    except IntegrityError:
        # Another caller inserted the same key after our look under the locks: it shared none
        # of our locks, so its content differs (a conflict, below). A backstop, seldom reached.
        if (done := _replay(key, fingerprint)) is not None:
            return done
        raise


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


def _transfer_once(
    *,
    debit: Account,
    credit: Account,
    amount: int,
    key: str,
    kind: str,
    memo: str,
    fingerprint: str,
    play: int | None,
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
    target = accounts[credit.pk]
    if not source.is_source and source.balance < amount:
        raise InsufficientFunds(f"{source} holds {source.balance} credits, {amount} are needed")
    play = _play_part(source, target, amount, play)
    made = Transfer.objects.create(
        key=key,
        debit_id=debit.pk,
        credit_id=credit.pk,
        amount=amount,
        play=play,
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
    # Only mixed accounts store a play part; a play or withdrawable account's kind says it all.
    play_out = play if source.is_mixed else 0
    play_in = play if target.is_mixed else 0
    # Both balances in one statement; the rows are locked, so this is the whole story.
    Account.objects.filter(pk__in=[debit.pk, credit.pk]).update(
        balance=F("balance") + Case(When(pk=debit.pk, then=Value(-amount)), default=Value(amount)),
        play=F("play") + Case(When(pk=debit.pk, then=Value(-play_out)), default=Value(play_in)),
    )
    # The callers' objects now show the new balances too (they were read before the lock).
    debit.balance = source.balance - amount
    credit.balance = target.balance + amount
    debit.play = source.play - play_out
    credit.play = target.play + play_in
    return made


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
    *, source: Account, user, amount: int, play: int, key: str, kind: str, memo: str
) -> list[Transfer]:
    """Pay ``amount`` from a locked mixed ``source`` to a user: its ``play`` part into the play
    account (key ``<key>~play``), the rest into the withdrawable one (key ``<key>``)."""
    legs = []
    if amount - play:
        legs.append(
            _transfer(
                debit=source,
                credit=user_account(user),
                amount=amount - play,
                key=key,
                kind=kind,
                memo=memo,
                play=0,
            )
        )
    if play:
        legs.append(
            _transfer(
                debit=source,
                credit=play_account(user),
                amount=play,
                key=key + PLAY_KEY_SUFFIX,
                kind=kind,
                memo=memo,
                play=play,
            )
        )
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
    if (done := _split_replay(key, amount=amount, kind="hold", pairs=pairs)) is not None:
        return done
    locked = _lock([wallet.pk, play.pk, escrow.pk])
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
                debit=wallet, credit=escrow, amount=from_wallet, key=key, kind="hold", memo=memo
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
    if (done := _split_replay(key, amount=amount, kind="release", pairs=pairs)) is not None:
        return done
    locked = _lock([wallet.pk, play.pk, escrow.pk])
    if (done := _split_replay(key, amount=amount, kind="release", pairs=pairs)) is not None:
        return done
    pot = locked[escrow.pk]
    if pot.balance < amount:
        raise InsufficientFunds(f"{pot} holds {pot.balance} credits, {amount} are needed")
    legs = _pay_user_legs(
        source=escrow,
        user=user,
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
    if _split_replay(key, amount=amount, kind=kind, pairs=pairs) is not None:
        return list(Transfer.objects.filter(key__in=[key, key + PLAY_KEY_SUFFIX]))
    locked = _lock([wallet.pk, play.pk, revenue.pk])
    if _split_replay(key, amount=amount, kind=kind, pairs=pairs) is not None:
        return list(Transfer.objects.filter(key__in=[key, key + PLAY_KEY_SUFFIX]))
    held = locked[revenue.pk]
    if held.balance < amount:
        raise InsufficientFunds(f"your creator revenue holds {held.balance} credits, not {amount}")
    return _pay_user_legs(
        source=revenue,
        user=user,
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


@transaction.atomic
def settle(*, escrow_ref: str, payouts: list[tuple[Account, int]], key: str) -> list[Transfer]:
    """Empty an escrow into several accounts, exactly once per ``key``.

    The amounts must add up to the escrow's balance exactly, else LedgerError and nothing moves.
    A retry with the same payouts returns the first transfers (one per payout).
    Each payout carries its share of the escrow's play part (``split_play``); a payout to a user
    (either of their accounts) pays that share into the play account (``<key>#<i>~play``) and
    the rest into the withdrawable one (``<key>#<i>``).
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
    if (done := _settle_replay(key, fingerprint, len(payouts))) is not None:
        return done
    # A user's payout may land in either of their accounts, so both are locked up front.
    owners = [a.owner for a, _ in payouts if a.kind in (AccountKind.USER, AccountKind.PLAY)]
    companions = [play_account(owner) for owner in owners] + [
        user_account(owner) for owner in owners
    ]
    # Lock the escrow and every payee together, in id order: locking the escrow first and the
    # payees one by one later could deadlock against a hold that locks a payee, then the escrow.
    accounts = _lock(
        [escrow.pk, *(account.pk for account, _ in payouts), *(a.pk for a in companions)]
    )
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
    plays = split_play([amount for _, amount in payouts], play=accounts[escrow.pk].play, total=pot)
    made = []
    for index, ((account, amount), play) in enumerate(zip(payouts, plays, strict=True)):
        leg_key = f"{key}{SETTLE_KEY_SEP}{index}"
        memo = f"settlement of {escrow_ref}"
        if account.kind in (AccountKind.USER, AccountKind.PLAY):
            legs = _pay_user_legs(
                source=escrow,
                user=account.owner,
                amount=amount,
                play=play,
                key=leg_key,
                kind="payout",
                memo=memo,
            )
            made.append(legs[0])
        else:
            made.append(
                _transfer(
                    debit=escrow,
                    credit=account,
                    amount=amount,
                    key=leg_key,
                    kind="payout",
                    memo=memo,
                    play=play,
                )
            )
    return made
