"""Play credits and withdrawable credits (issue #10): the split rules of every movement, exact
proportional settlement, the withdrawal refusal, the audit's play checks, the starter grant."""

from __future__ import annotations

import random

import pytest
from django.db.models import F, Sum

from arena.services.accounts import user_register
from ledger import services as ledger
from ledger.errors import IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.models import Account, AccountKind, Posting, Transfer
from ledger.selectors import audit_ledger
from ledger.services import split_play

pytestmark = pytest.mark.django_db


def fund(user, *, play: int = 0, withdrawable: int = 0) -> None:
    if play:
        ledger.grant(user=user, amount=play, key=f"g:{user.pk}:{play}")
    if withdrawable:
        ledger.deposit_credit(user=user, amount=withdrawable, key=f"d:{user.pk}:{withdrawable}")


def parts(user) -> tuple[int, int]:
    have = ledger.user_balances(user)
    return have.withdrawable, have.play


def escrow_parts(ref: str) -> tuple[int, int]:
    """(withdrawable, play) of an escrow."""
    account = Account.objects.get(kind=AccountKind.ESCROW, ref=ref)
    return account.balance - account.play, account.play


def assert_audit_ok() -> None:
    report = audit_ledger()
    assert report["ok"], report["problems"]


# --- where credits land ------------------------------------------------------------------


def test_grants_are_play_and_deposits_are_withdrawable(alice):
    fund(alice, play=300, withdrawable=200)
    assert parts(alice) == (200, 300)
    assert ledger.user_balance(alice) == 500  # the spendable total, as callers used it
    assert ledger.balance(ledger.play_account(alice)) == 300
    assert ledger.balance(ledger.user_account(alice)) == 200
    assert_audit_ok()


def test_a_user_without_accounts_has_zero_of_both(alice):
    assert parts(alice) == (0, 0)
    assert not Account.objects.filter(owner=alice).exists()  # reading creates nothing


# --- hold: play first ----------------------------------------------------------------------


def test_hold_spends_play_credits_first_then_withdrawable(alice):
    fund(alice, play=30, withdrawable=100)
    first = ledger.hold(user=alice, escrow_ref="entry:1", amount=50, key="h1")
    assert parts(alice) == (80, 0)
    assert escrow_parts("entry:1") == (20, 30)
    legs = dict(Transfer.objects.filter(key__startswith="h1").values_list("key", "amount"))
    assert legs == {"h1": 20, "h1~play": 30}
    assert first.key == "h1"
    # A retry moves nothing and answers the same transfer; other content under the key conflicts.
    assert ledger.hold(user=alice, escrow_ref="entry:1", amount=50, key="h1").pk == first.pk
    assert parts(alice) == (80, 0)
    with pytest.raises(IdempotencyConflict, match="already used"):
        ledger.hold(user=alice, escrow_ref="entry:1", amount=49, key="h1")
    assert_audit_ok()


def test_hold_of_play_only_is_one_play_transfer(alice):
    fund(alice, play=100, withdrawable=100)
    made = ledger.hold(user=alice, escrow_ref="entry:2", amount=60, key="h2")
    assert made.key == "h2~play" and made.play == 60
    assert parts(alice) == (100, 40) and escrow_parts("entry:2") == (0, 60)


def test_hold_beyond_both_refuses_and_moves_nothing(alice):
    fund(alice, play=30, withdrawable=20)
    with pytest.raises(InsufficientFunds, match=r"holds 50 credits \(30 play, 20 withdrawable\)"):
        ledger.hold(user=alice, escrow_ref="entry:3", amount=51, key="h3")
    assert parts(alice) == (20, 30)
    assert not Transfer.objects.filter(key__startswith="h3").exists()


# --- release and settle keep the escrow's mix ----------------------------------------------


def test_release_returns_each_part_where_it_came_from(alice):
    fund(alice, play=30, withdrawable=100)
    ledger.hold(user=alice, escrow_ref="entry:4", amount=50, key="h4")
    ledger.release(user=alice, escrow_ref="entry:4", amount=50, key="r4")
    assert parts(alice) == (100, 30)
    assert escrow_parts("entry:4") == (0, 0)
    assert_audit_ok()


def test_a_partial_release_rounds_toward_play(alice):
    fund(alice, play=1, withdrawable=2)
    ledger.hold(user=alice, escrow_ref="pool:x", amount=3, key="h5")
    ledger.release(user=alice, escrow_ref="pool:x", amount=1, key="r5")
    # 1 of 3 credits where 1 is play: ceil(1/3) = 1 play, so no play credit became withdrawable.
    assert parts(alice) == (0, 1)
    assert escrow_parts("pool:x") == (2, 0)


def test_settle_splits_each_payout_in_proportion_with_exact_sums(alice, bob, carol, mallory):
    fund(alice, play=100)  # a free account
    fund(bob, withdrawable=100)  # a depositor
    fund(mallory, play=40, withdrawable=60)
    for user in (alice, bob, mallory):
        ledger.hold(user=user, escrow_ref="match:9", amount=100, key=f"hold:{user.pk}")
    ledger.subsidize(escrow_ref="match:9", amount=33, key="sub:9")
    assert escrow_parts("match:9") == (160, 173)  # 333: 173 play (100 + 40 + 33 subsidy)
    payouts = [
        (ledger.creator_revenue_account(carol), 17),
        (ledger.system_account("platform_revenue"), 16),
        (ledger.user_account(alice), 200),
        (ledger.user_account(bob), 100),
    ]
    made = ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")
    assert len(made) == 4
    expected_play = split_play([17, 16, 200, 100], play=173, total=333)
    assert expected_play == [9, 8, 104, 52] and sum(expected_play) == 173
    assert parts(alice) == (200 - 104, 104)
    assert parts(bob) == (100 - 52, 52)
    revenue = Account.objects.get(pk=ledger.creator_revenue_account(carol).pk)
    assert (revenue.balance, revenue.play) == (17, 9)
    assert escrow_parts("match:9") == (0, 0)
    # The withdrawable credits that left the escrow are exactly the withdrawable ones that came in.
    out = Transfer.objects.filter(debit__ref="match:9").aggregate(w=Sum(F("amount") - F("play")))[
        "w"
    ]
    assert out == 160
    # A retry returns the same transfers and moves nothing.
    assert [t.pk for t in ledger.settle(escrow_ref="match:9", payouts=payouts, key="settle:9")] == [
        t.pk for t in made
    ]
    assert parts(alice) == (96, 104)
    assert_audit_ok()


def test_settle_of_a_play_only_pot_pays_play_only(alice, bob):
    fund(alice, play=100)
    fund(bob, play=100)
    ledger.hold(user=alice, escrow_ref="match:10", amount=100, key="ha")
    ledger.hold(user=bob, escrow_ref="match:10", amount=100, key="hb")
    made = ledger.settle(
        escrow_ref="match:10", payouts=[(ledger.user_account(alice), 200)], key="s10"
    )
    assert made[0].key == "s10#0~play"
    assert parts(alice) == (0, 200)
    assert parts(bob) == (0, 0)
    assert (
        ledger.settle(escrow_ref="match:10", payouts=[(ledger.user_account(alice), 200)], key="s10")
        == made
    )


def test_split_play_is_exact_for_any_payouts():
    rnd = random.Random(10)
    for _ in range(500):
        amounts = [rnd.randint(0, 50) for _ in range(rnd.randint(1, 8))]
        total = sum(amounts)
        play = rnd.randint(0, total)
        got = split_play(amounts, play=play, total=total)
        assert sum(got) == (play if total else 0)
        assert all(0 <= p <= a for p, a in zip(got, amounts, strict=True))
        # Within one credit of the exact proportion.
        assert all(abs(p * total - a * play) < total for p, a in zip(got, amounts, strict=True))


def test_split_play_gives_the_leftover_to_the_largest_remainders_earliest_first():
    assert split_play([1, 1, 1], play=2, total=3) == [1, 1, 0]
    assert split_play([5, 3, 2], play=5, total=10) == [3, 1, 1]  # 2.5, 1.5, 1.0


def test_escrow_to_escrow_moves_the_mix(alice):
    fund(alice, play=30, withdrawable=70)
    ledger.hold(user=alice, escrow_ref="entry:5", amount=100, key="h6")
    ledger.transfer(
        debit=ledger.escrow_account("entry:5"),
        credit=ledger.escrow_account("match:5"),
        amount=100,
        key="move",
        kind="escrow",
    )
    assert escrow_parts("match:5") == (70, 30)
    assert_audit_ok()


def test_play_credits_cannot_be_moved_into_a_withdrawable_account(alice, bob):
    fund(alice, play=50)
    with pytest.raises(LedgerError, match="play credits and cannot go to"):
        ledger.transfer(
            debit=ledger.play_account(alice),
            credit=ledger.user_account(bob),
            amount=10,
            key="launder",
            kind="gift",
        )
    ledger.hold(user=alice, escrow_ref="match:6", amount=50, key="h7")
    # Out of an escrow, a transfer to a withdrawable account can take only its withdrawable part.
    with pytest.raises(
        InsufficientFunds, match="0 withdrawable credits; 0 play and 50 withdrawable"
    ):
        ledger.transfer(
            debit=ledger.escrow_account("match:6"),
            credit=ledger.user_account(bob),
            amount=50,
            key="launder2",
            kind="payout",
        )
    assert parts(bob) == (0, 0)


# --- withdrawals -------------------------------------------------------------------------


def test_withdrawing_play_credits_is_refused_with_a_clear_message(alice):
    fund(alice, play=500, withdrawable=20)
    with pytest.raises(
        InsufficientFunds,
        match="you have 20 withdrawable credits and asked to withdraw 21; "
        "your 500 play credits cannot be withdrawn",
    ):
        ledger.withdraw_debit(user=alice, amount=21, key="w1")
    assert parts(alice) == (20, 500)
    ledger.withdraw_debit(user=alice, amount=20, key="w2")
    assert parts(alice) == (0, 500)
    assert ledger.balance(ledger.system_account("pending_withdrawals")) == 20


# --- the audit ---------------------------------------------------------------------------


def test_the_audit_catches_a_broken_play_escrow(alice):
    fund(alice, play=30, withdrawable=70)
    ledger.hold(user=alice, escrow_ref="match:7", amount=100, key="h8")
    assert_audit_ok()
    # Turn 20 play credits of the escrow into withdrawable ones behind the ledger's back.
    Account.objects.filter(kind=AccountKind.ESCROW, ref="match:7").update(play=10)
    report = audit_ledger()
    assert not report["ok"]
    assert [(p["check"], p["stored"], p["recomputed"]) for p in report["problems"]] == [
        ("play_part", 10, 30)
    ]


def test_the_audit_catches_play_credits_moved_into_a_withdrawable_account(alice):
    fund(alice, play=30)
    play, wallet = ledger.play_account(alice), ledger.user_account(alice)
    # A forged transfer, written as a buggy service would, bypassing the checks in transfer().
    forged = Transfer.objects.create(
        key="forged", debit=play, credit=wallet, amount=30, play=0, kind="gift", fingerprint="x"
    )
    Posting.objects.create(transfer=forged, account=play, amount=-30)
    Posting.objects.create(transfer=forged, account=wallet, amount=30)
    Account.objects.filter(pk=play.pk).update(balance=F("balance") - 30)
    Account.objects.filter(pk=wallet.pk).update(balance=F("balance") + 30)
    report = audit_ledger()
    assert [p["check"] for p in report["problems"]] == ["play_kept_apart"]
    assert "from play credits to withdrawable balance" in report["problems"][0]["message"]


# --- the starter grant -------------------------------------------------------------------


def test_registration_grants_the_starter_play_credits_once(settings):
    settings.ARENA_STARTER_GRANT = 1000
    user = user_register(username="newbie", password="a-long-pass-123")
    assert parts(user) == (0, 1000)
    again = ledger.starter_grant(user=user)
    assert again.key == f"starter:{user.pk}"
    assert parts(user) == (0, 1000)
    assert Transfer.objects.filter(kind="grant", credit__owner=user).count() == 1


def test_a_zero_starter_grant_grants_nothing(settings):
    settings.ARENA_STARTER_GRANT = 0
    user = user_register(username="newbie2", password="a-long-pass-123")
    assert ledger.starter_grant(user=user) is None
    assert parts(user) == (0, 0)


# --- creator revenue back to the creator's balances -----------------------------------------


def test_creator_revenue_moves_to_the_creators_balances_with_its_mix(alice, bob, carol):
    """A pot of one play fee and one withdrawable fee pays the creator a rake of both kinds;
    moving it keeps the kinds apart: only the withdrawable part can then be withdrawn."""
    fund(alice, play=100)
    fund(bob, withdrawable=100)
    ledger.hold(user=alice, escrow_ref="match:1", amount=100, key="h:a")
    ledger.hold(user=bob, escrow_ref="match:1", amount=100, key="h:b")
    revenue = ledger.creator_revenue_account(carol)
    ledger.settle(
        escrow_ref="match:1",
        payouts=[(revenue, 20), (ledger.user_account(bob), 180)],
        key="s:1",
    )
    revenue.refresh_from_db()
    assert (revenue.balance, revenue.play) == (20, 10)

    legs = ledger.creator_revenue_withdraw(user=carol, amount=20, key="rev:1")

    assert sorted(t.amount for t in legs) == [10, 10]
    assert parts(carol) == (10, 10)
    assert ledger.balance(revenue) == 0
    # Exactly once per key: a retry moves nothing more.
    ledger.creator_revenue_withdraw(user=carol, amount=20, key="rev:1")
    assert parts(carol) == (10, 10)
    with pytest.raises(IdempotencyConflict):
        ledger.creator_revenue_withdraw(user=carol, amount=5, key="rev:1")
    assert_audit_ok()


def test_moving_more_revenue_than_earned_moves_nothing(carol):
    before = Transfer.objects.count()
    with pytest.raises(InsufficientFunds, match="creator revenue holds 0"):
        ledger.creator_revenue_withdraw(user=carol, amount=1, key="rev:too-much")
    assert Transfer.objects.count() == before
    assert parts(carol) == (0, 0)
