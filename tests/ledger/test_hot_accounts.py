"""A ledger without hot rows (issue #11): settle's statements do not grow with its payouts,
hot system accounts are spread over shard rows whose sum is the account, a debit from a
sharded account checks the whole account, and the audit checks every shard."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import Account, AccountKind, Transfer
from ledger.selectors import audit_ledger

pytestmark = pytest.mark.django_db

PLATFORM = AccountKind.PLATFORM_REVENUE


def players(count: int) -> list:
    users = get_user_model().objects
    made = [users.create_user(f"hot{users.count()}-{i}") for i in range(count)]
    for user in made:
        ledger.play_account(user), ledger.user_account(user)
    return made


def funded_pot(ref: str, users: list, fee: int) -> None:
    """A pot of withdrawable fees and a play subsidy, so user payouts split into two legs."""
    for user in users:
        ledger.deposit_credit(user=user, amount=fee, key=f"d:{ref}:{user.pk}")
        ledger.hold(user=user, escrow_ref=ref, amount=fee, key=f"h:{ref}:{user.pk}")
    ledger.subsidize(escrow_ref=ref, amount=fee * len(users), key=f"s:{ref}")


def settle_queries(count: int) -> tuple[int, list[str]]:
    users = players(count - 1)
    ref = f"match:n{count}"
    funded_pot(ref, users, 100)
    pot = ledger.balance(ledger.escrow_account(ref))
    payouts = [
        (ledger.system_account(PLATFORM), 10),
        *[(ledger.user_account(u), (pot - 10) // len(users)) for u in users],
    ]
    payouts[-1] = (payouts[-1][0], pot - sum(a for _, a in payouts[:-1]))
    ledger.system_shards(PLATFORM)  # each shard's first use would add its creation
    with CaptureQueriesContext(connection) as queries:
        made = ledger.settle(escrow_ref=ref, payouts=payouts, key=f"settle:{count}")
    assert len(made) == count
    assert ledger.balance(ledger.escrow_account(ref)) == 0
    return len(queries), [q["sql"] for q in queries]


def test_settle_makes_as_many_statements_for_16_payouts_as_for_2():
    small, _ = settle_queries(2)
    large, statements = settle_queries(16)
    assert small == large, statements
    # escrow look-up, lock of the escrow and payees, lock of a platform shard, settlement,
    # transfers, postings, balances; savepoint and release
    assert large <= 9, statements
    report = audit_ledger()
    assert report["ok"], report["problems"]


def test_a_nested_transfer_takes_no_savepoint_and_a_refusal_leaves_the_caller_usable(alice, bob):
    ledger.deposit_credit(user=alice, amount=50, key="d")
    wallet_a, wallet_b = ledger.user_account(alice), ledger.user_account(bob)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with pytest.raises(InsufficientFunds):
            ledger.transfer(debit=wallet_a, credit=wallet_b, amount=60, key="t1", kind="gift")
        ledger.transfer(debit=wallet_a, credit=wallet_b, amount=30, key="t2", kind="gift")
    assert not [q for q in queries if "SAVEPOINT" in q["sql"].upper()]
    assert (ledger.user_balance(alice), ledger.user_balance(bob)) == (20, 30)
    assert not Transfer.objects.filter(key="t1").exists()


def test_platform_revenue_spreads_over_shards_and_its_balance_is_their_sum(alice, bob):
    for n in range(24):
        ref = f"match:p{n}"
        ledger.deposit_credit(user=alice, amount=10, key=f"d{n}")
        ledger.hold(user=alice, escrow_ref=ref, amount=10, key=f"h{n}")
        payouts = [(ledger.system_account(PLATFORM), 3), (ledger.user_account(bob), 7)]
        ledger.settle(escrow_ref=ref, payouts=payouts, key=f"st{n}")
    shards = Account.objects.filter(kind=PLATFORM)
    assert shards.count() > 1
    assert sum(s.balance for s in shards) == ledger.balance(ledger.system_account(PLATFORM))
    assert ledger.balance(ledger.system_account(PLATFORM)) == 72
    # A retry lands nowhere new; other payouts under the same key are a conflict.
    again = ledger.settle(
        escrow_ref="match:p0",
        payouts=[(ledger.system_account(PLATFORM), 3), (ledger.user_account(bob), 7)],
        key="st0",
    )
    assert again[0].key == "st0#0"
    with pytest.raises(IdempotencyConflict):
        ledger.settle(
            escrow_ref="match:p0",
            payouts=[(ledger.system_account(PLATFORM), 4), (ledger.user_account(bob), 6)],
            key="st0",
        )
    report = audit_ledger()
    assert report["ok"], report["problems"]
    assert report["system_accounts"][PLATFORM]["balance"] == 72


def platform_with_revenue(alice, count: int = 12) -> int:
    """Platform revenue spread over several shards, half of it play (the pots were)."""
    for n in range(count):
        ref = f"match:r{n}"
        ledger.deposit_credit(user=alice, amount=5, key=f"rd{n}")
        ledger.hold(user=alice, escrow_ref=ref, amount=5, key=f"rh{n}")
        ledger.subsidize(escrow_ref=ref, amount=5, key=f"rs{n}")
        ledger.settle(
            escrow_ref=ref, payouts=[(ledger.system_account(PLATFORM), 10)], key=f"rst{n}"
        )
    assert Account.objects.filter(kind=PLATFORM, balance__gt=0).count() > 1
    return 10 * count


def test_a_debit_from_platform_revenue_checks_and_takes_the_whole_account(alice, carol):
    total = platform_with_revenue(alice)
    platform = ledger.system_account(PLATFORM)
    revenue = ledger.creator_revenue_account(carol)
    with pytest.raises(InsufficientFunds):
        ledger.transfer(debit=platform, credit=revenue, amount=total + 1, key="x", kind="bonus")
    made = ledger.transfer(debit=platform, credit=revenue, amount=total - 1, key="y", kind="bonus")
    # The play share of the whole account (half play), rounded toward play.
    assert (made.amount, made.play) == (total - 1, (total - 1 + 1) // 2)
    assert ledger.balance(platform) == 1 and ledger.balance(revenue) == total - 1
    sweeps = Transfer.objects.filter(kind=ledger.SWEEP_KIND).count()
    assert sweeps > 0
    again = ledger.transfer(debit=platform, credit=revenue, amount=total - 1, key="y", kind="bonus")
    assert again.pk == made.pk and Transfer.objects.filter(kind=ledger.SWEEP_KIND).count() == sweeps
    report = audit_ledger()
    assert report["ok"], report["problems"]


def run_audit() -> dict:
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("ledger_audit", "--json", stdout=out)
    return json.loads(out.getvalue())


def tamper(account_id: int, delta: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Account._meta.db_table} SET balance = balance + %s WHERE id = %s",
            [delta, account_id],
        )


def test_the_audit_catches_a_tampered_shard_even_when_the_total_is_unchanged(alice):
    platform_with_revenue(alice)
    full = list(Account.objects.filter(kind=PLATFORM, balance__gt=5).order_by("pk"))
    # Credits moved from one shard to another behind the ledger's back: the account's total
    # is right, each shard's is not.
    tamper(full[0].pk, -5)
    tamper(full[1].pk, +5)
    report = run_audit()
    bad = {p["account"] for p in report["problems"] if p["check"] == "stored_equals_recomputed"}
    assert bad == {full[0].pk, full[1].pk}
    assert "balances_sum_zero" not in {p["check"] for p in report["problems"]}


def test_the_database_refuses_a_shard_number_on_an_account_that_is_not_sharded(alice):
    wallet = ledger.user_account(alice)
    with connection.cursor() as cursor:
        # The CHECK constraint refuses this on a sound schema; drop out of it for the test.
        with pytest.raises(Exception), transaction.atomic():  # noqa: B017, PT011
            cursor.execute(
                f"UPDATE {Account._meta.db_table} SET shard = 3 WHERE id = %s", [wallet.pk]
            )
    assert audit_ledger()["ok"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_accounts_are_locked_only_inside_a_transaction(alice, bob):
    """The hand-written locking SELECT keeps the ORM's rule: outside a transaction its lock
    would end with the statement, so it is refused, and inside one it returns the rows."""
    from django.db.transaction import TransactionManagementError

    ids = [ledger.user_account(alice).pk, ledger.user_account(bob).pk]
    with pytest.raises(TransactionManagementError):
        ledger._lock(ids)
    with transaction.atomic():
        assert sorted(ledger._lock(ids)) == sorted(ids)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_transfer_outside_a_transaction_is_one_statement_with_the_same_rules(alice, bob):
    """On PostgreSQL, a transfer no caller wraps in a transaction is one statement (lock in id
    order, transfer, postings, balances), and every rule of the general path still holds:
    overdraft refused with nothing written, same key replayed, same key for other content
    refused, play credits kept out of a withdrawable account."""
    from ledger.errors import LedgerError

    ledger.deposit_credit(user=alice, amount=50, key="d")
    ledger.grant(user=alice, amount=20, key="g")
    wallet_a, wallet_b = ledger.user_account(alice), ledger.user_account(bob)
    with CaptureQueriesContext(connection) as queries:
        made = ledger.transfer(debit=wallet_a, credit=wallet_b, amount=30, key="t", kind="gift")
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert (wallet_a.balance, wallet_b.balance) == (20, 30)  # the callers' objects too
    assert (ledger.balance(wallet_a), ledger.balance(wallet_b)) == (20, 30)
    assert sorted(made.postings.values_list("amount", flat=True)) == [-30, 30]

    transfers = Transfer.objects.count()
    with pytest.raises(InsufficientFunds, match="holds 20 credits, 21 are needed"):
        ledger.transfer(debit=wallet_a, credit=wallet_b, amount=21, key="over", kind="gift")
    again = ledger.transfer(debit=wallet_a, credit=wallet_b, amount=30, key="t", kind="gift")
    assert again.pk == made.pk
    with pytest.raises(IdempotencyConflict):
        ledger.transfer(debit=wallet_a, credit=wallet_b, amount=5, key="t", kind="gift")
    with pytest.raises(LedgerError, match="play credits"):
        ledger.transfer(
            debit=ledger.play_account(alice), credit=wallet_b, amount=5, key="p", kind="gift"
        )
    assert Transfer.objects.count() == transfers
    assert (ledger.balance(wallet_a), ledger.balance(wallet_b)) == (20, 30)
    report = audit_ledger()
    assert report["ok"], report["problems"]
