"""The ledger services: each movement, its idempotency, and the refusals that move nothing."""

from __future__ import annotations

import pytest

from ledger import services as ledger
from ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.models import Account, AccountKind, Posting, Transfer
from ledger.selectors import audit_ledger

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(Account.objects.values_list("pk", "balance")),
        Transfer.objects.count(),
        Posting.objects.count(),
    )


def test_it_creates_one_account_per_identity(alice, carol):
    assert ledger.user_account(alice) == ledger.user_account(alice)
    assert ledger.creator_revenue_account(carol) == ledger.creator_revenue_account(carol)
    assert ledger.user_account(carol) != ledger.creator_revenue_account(carol)
    assert ledger.escrow_account("match:1") == ledger.escrow_account("match:1")
    assert ledger.escrow_account("match:1") != ledger.escrow_account("match:2")
    grants = ledger.system_account("grants")
    assert grants == ledger.system_account("grants")
    assert grants.kind == AccountKind.GRANTS and grants.owner is None


def test_it_refuses_unknown_system_accounts_and_bad_refs():
    with pytest.raises(LedgerError, match="not a system account"):
        ledger.system_account("user")
    with pytest.raises(LedgerError, match="escrow ref"):
        ledger.escrow_account("")
    with pytest.raises(LedgerError, match="escrow ref"):
        ledger.escrow_account("x" * 101)


def test_it_reports_zero_for_a_user_without_account_and_creates_none(alice):
    assert ledger.user_balance(alice) == 0
    assert not Account.objects.filter(owner=alice).exists()


def test_it_grants_credits_with_two_postings(alice):
    made = ledger.grant(user=alice, amount=500, key="grant:alice:1", memo="welcome")
    assert ledger.user_balance(alice) == 500
    assert ledger.balance(ledger.system_account("grants")) == -500
    assert made.kind == "grant" and made.memo == "welcome" and made.amount == 500
    postings = sorted(made.postings.values_list("account__kind", "amount"))
    assert postings == [("grants", -500), ("play", 500)]  # granted credits are play credits


def test_it_applies_a_key_once_and_returns_the_first_transfer(alice):
    first = ledger.grant(user=alice, amount=500, key="k1")
    again = ledger.grant(user=alice, amount=500, key="k1", memo="a different note is not content")
    assert again.pk == first.pk
    assert ledger.user_balance(alice) == 500
    assert Transfer.objects.count() == 1


def test_it_refuses_a_reused_key_with_other_content(alice, bob):
    ledger.grant(user=alice, amount=500, key="k1")
    before = snapshot()
    with pytest.raises(IdempotencyConflict, match="already used"):
        ledger.grant(user=alice, amount=501, key="k1")
    with pytest.raises(IdempotencyConflict):
        ledger.grant(user=bob, amount=500, key="k1")
    with pytest.raises(IdempotencyConflict):
        ledger.deposit_credit(user=alice, amount=500, key="k1")
    assert snapshot() == before


def test_it_moves_credits_between_users(alice, bob):
    ledger.deposit_credit(user=alice, amount=100, key="g")
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    made = ledger.transfer(debit=a, credit=b, amount=60, key="t", kind="gift", memo="thanks")
    assert (ledger.user_balance(alice), ledger.user_balance(bob)) == (40, 60)
    assert (a.balance, b.balance) == (40, 60)  # the caller's objects are refreshed too
    assert made.debit == a and made.credit == b


def test_it_refuses_an_overdraft_and_moves_nothing(alice, bob):
    ledger.deposit_credit(user=alice, amount=100, key="g")
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    before = snapshot()
    with pytest.raises(InsufficientFunds, match="holds 100 credits, 101 are needed"):
        ledger.transfer(debit=a, credit=b, amount=101, key="t", kind="gift")
    assert snapshot() == before
    # The key was not consumed: once funded, the same call goes through.
    ledger.deposit_credit(user=alice, amount=1, key="g2")
    ledger.transfer(debit=a, credit=b, amount=101, key="t", kind="gift")
    assert ledger.user_balance(bob) == 101


@pytest.mark.parametrize("amount", [0, -5, 1.0, 2.5, "10", True, None, 2**63])
def test_it_refuses_amounts_that_are_not_positive_whole_credits(alice, amount):
    with pytest.raises(LedgerError, match="amount"):
        ledger.grant(user=alice, amount=amount, key="k")
    assert Transfer.objects.count() == 0


@pytest.mark.parametrize("key", ["", "   ", None, 7, "k" * 201])
def test_it_refuses_bad_keys(alice, key):
    with pytest.raises(LedgerError, match="idempotency key"):
        ledger.grant(user=alice, amount=1, key=key)
    assert Transfer.objects.count() == 0


def test_it_refuses_a_transfer_to_the_same_account(alice):
    ledger.grant(user=alice, amount=10, key="g")
    account = ledger.user_account(alice)
    with pytest.raises(LedgerError, match="two different accounts"):
        ledger.transfer(debit=account, credit=account, amount=1, key="t", kind="x")


def test_it_refuses_bad_kind_memo_and_accounts(alice, bob):
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    ledger.grant(user=alice, amount=10, key="g")
    with pytest.raises(LedgerError, match="kind"):
        ledger.transfer(debit=a, credit=b, amount=1, key="t", kind="")
    with pytest.raises(LedgerError, match="memo"):
        ledger.transfer(debit=a, credit=b, amount=1, key="t", kind="x", memo="m" * 256)
    with pytest.raises(LedgerError, match="ledger accounts"):
        ledger.transfer(debit=alice, credit=b, amount=1, key="t", kind="x")
    with pytest.raises(LedgerError, match="saved"):
        ledger.transfer(debit=Account(kind="user"), credit=b, amount=1, key="t", kind="x")
    with pytest.raises(LedgerError, match="saved user"):
        ledger.grant(user=None, amount=1, key="t")
    assert ledger.user_balance(alice) == 10


def test_it_holds_and_releases_escrow(alice):
    ledger.grant(user=alice, amount=100, key="g")
    ledger.hold(user=alice, escrow_ref="match:7", amount=30, key="h")
    escrow = ledger.escrow_account("match:7")
    assert (ledger.user_balance(alice), ledger.balance(escrow)) == (70, 30)
    ledger.release(user=alice, escrow_ref="match:7", amount=30, key="r")
    assert (ledger.user_balance(alice), ledger.balance(escrow)) == (100, 0)


def test_it_refuses_to_hold_more_than_the_user_has(alice):
    ledger.grant(user=alice, amount=10, key="g")
    with pytest.raises(InsufficientFunds):
        ledger.hold(user=alice, escrow_ref="match:7", amount=11, key="h")
    assert ledger.user_balance(alice) == 10


def test_it_refuses_to_release_more_than_the_escrow_holds(alice):
    ledger.grant(user=alice, amount=10, key="g")
    ledger.hold(user=alice, escrow_ref="match:7", amount=10, key="h")
    with pytest.raises(InsufficientFunds, match="escrow match:7"):
        ledger.release(user=alice, escrow_ref="match:7", amount=11, key="r")


def test_it_subsidizes_an_escrow_from_grants():
    ledger.subsidize(escrow_ref="match:3", amount=40, key="s")
    assert ledger.balance(ledger.escrow_account("match:3")) == 40
    assert ledger.balance(ledger.system_account("grants")) == -40


def fund_pot(alice, bob, ref="match:9"):
    for user in (alice, bob):
        ledger.grant(user=user, amount=100, key=f"g:{user.pk}")
        ledger.hold(user=user, escrow_ref=ref, amount=50, key=f"h:{user.pk}")
    ledger.subsidize(escrow_ref=ref, amount=20, key="s")  # pot = 120


def test_it_settles_an_escrow_exactly_once(alice, bob, carol):
    fund_pot(alice, bob)
    payouts = [
        (ledger.user_account(alice), 90),
        (ledger.user_account(bob), 18),
        (ledger.creator_revenue_account(carol), 6),
        (ledger.system_account("platform_revenue"), 6),
    ]
    made = ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")
    assert [t.amount for t in made] == [90, 18, 6, 6]
    assert ledger.balance(ledger.escrow_account("match:9")) == 0
    assert (ledger.user_balance(alice), ledger.user_balance(bob)) == (140, 68)
    assert ledger.balance(ledger.creator_revenue_account(carol)) == 6
    again = ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")
    assert [t.pk for t in again] == [t.pk for t in made]
    assert ledger.user_balance(alice) == 140
    assert audit_ledger()["ok"]


def test_it_refuses_a_settlement_that_does_not_empty_the_escrow(alice, bob):
    fund_pot(alice, bob)
    before = snapshot()
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    for payouts in ([(a, 100), (b, 19)], [(a, 100), (b, 21)], []):
        with pytest.raises(LedgerError, match="holds 120"):
            ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")
    assert snapshot() == before


def test_it_refuses_a_settlement_retried_with_other_payouts(alice, bob):
    fund_pot(alice, bob)
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    ledger.settle(escrow_ref="match:9", payouts=[(a, 100), (b, 20)], key="settle:9")
    before = snapshot()
    with pytest.raises(IdempotencyConflict, match="different payouts"):
        ledger.settle(escrow_ref="match:9", payouts=[(a, 20), (b, 100)], key="settle:9")
    assert snapshot() == before


def test_it_skips_zero_payouts_and_refuses_bad_ones(alice, bob):
    fund_pot(alice, bob)
    a, b = ledger.user_account(alice), ledger.user_account(bob)
    escrow = ledger.escrow_account("match:9")
    for payouts, message in [
        ([(a, -1), (b, 121)], "whole number >= 0"),
        ([(a, 1.5), (b, 118.5)], "whole number >= 0"),
        ([(alice, 120)], "saved ledger account"),
        ([(escrow, 120)], "cannot pay itself"),
        ([a, b], "pair"),
        ("nope", "list"),
    ]:
        with pytest.raises(LedgerError, match=message):
            ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")
    with pytest.raises(LedgerError, match="settlement key"):
        ledger.settle(escrow_ref="match:9", payouts=[(a, 120)], key="has#hash")
    made = ledger.settle(escrow_ref="match:9", payouts=[(a, 120), (b, 0)], key="settle:9")
    assert len(made) == 1 and ledger.user_balance(alice) == 170


def test_it_settles_an_empty_escrow_with_no_payouts_once(alice):
    assert ledger.settle(escrow_ref="match:empty", payouts=[], key="settle:empty") == []
    # Credits arriving later do not turn a retry of that settlement into a new one.
    ledger.subsidize(escrow_ref="match:empty", amount=5, key="late")
    assert ledger.settle(escrow_ref="match:empty", payouts=[], key="settle:empty") == []
    with pytest.raises(IdempotencyConflict):
        ledger.settle(
            escrow_ref="match:empty",
            payouts=[(ledger.user_account(alice), 5)],
            key="settle:empty",
        )
    assert ledger.balance(ledger.escrow_account("match:empty")) == 5


def test_it_refuses_a_settlement_key_reused_for_another_escrow(alice):
    ledger.subsidize(escrow_ref="match:a", amount=5, key="sa")
    ledger.subsidize(escrow_ref="match:b", amount=5, key="sb")
    payee = ledger.user_account(alice)
    ledger.settle(escrow_ref="match:a", payouts=[(payee, 5)], key="settle")
    with pytest.raises(IdempotencyConflict):
        ledger.settle(escrow_ref="match:b", payouts=[(payee, 5)], key="settle")
    assert ledger.user_balance(alice) == 5


def test_it_deposits_and_withdraws_through_pending(alice):
    ledger.deposit_credit(user=alice, amount=1_000, key="dep:1", memo="chain tx 0xabc")
    assert ledger.balance(ledger.system_account("chain_deposits")) == -1_000
    ledger.withdraw_debit(user=alice, amount=300, key="w:1:debit")
    ledger.withdraw_debit(user=alice, amount=200, key="w:2:debit")
    pending = ledger.system_account("pending_withdrawals")
    assert (ledger.user_balance(alice), ledger.balance(pending)) == (500, 500)
    ledger.withdraw_return(user=alice, amount=300, key="w:1:return")  # a failed send
    ledger.withdraw_finalize(amount=200, key="w:2:finalize")  # a sent one
    assert (ledger.user_balance(alice), ledger.balance(pending)) == (800, 0)
    # The sent credits left circulation: chain deposits now backs only what users still hold.
    assert ledger.balance(ledger.system_account("chain_deposits")) == -800
    assert audit_ledger()["ok"]


def test_it_refuses_a_withdrawal_beyond_the_balance(alice):
    ledger.deposit_credit(user=alice, amount=100, key="dep:1")
    with pytest.raises(InsufficientFunds):
        ledger.withdraw_debit(user=alice, amount=101, key="w:1:debit")
    assert ledger.user_balance(alice) == 100


def test_it_keeps_the_callers_transaction_usable_after_a_refusal(alice):
    from django.db import transaction

    with transaction.atomic():
        ledger.grant(user=alice, amount=5, key="g")
        with pytest.raises(InsufficientFunds):
            ledger.hold(user=alice, escrow_ref="m", amount=6, key="h")
        ledger.hold(user=alice, escrow_ref="m", amount=5, key="h2")
    assert ledger.user_balance(alice) == 0
