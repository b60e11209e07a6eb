"""Withdrawals on the in-process chain: debited into pending, sent once, returned on failure."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import services as ledger_services
from ledger.chain import ChainError, platform_address, withdrawal_request, withdrawal_send
from ledger.chain.withdrawals import _sign_once
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import Withdrawal
from tests.chain.conftest import ETHER, assert_books_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich_alice(alice, settings):
    settings.CREDITS_PER_ETHER = 1_000
    ledger_services.deposit_credit(user=alice, amount=5_000, key="test:seed-alice")
    return alice


def test_it_debits_then_sends_the_ether(w3, rich_alice):
    to = Account.create().address
    withdrawal, _ = withdrawal_request(
        user=rich_alice, to_address=to.lower(), credits=1_500, key="k1"
    )

    assert withdrawal.status == Withdrawal.Status.REQUESTED
    assert withdrawal.to_address == to  # stored checksummed
    assert int(withdrawal.wei) == 3 * ETHER // 2
    assert ledger_services.user_balance(rich_alice) == 3_500
    assert_books_balanced(pending=1_500)

    sent = withdrawal_send(withdrawal_id=withdrawal.pk)

    assert sent.status == Withdrawal.Status.SENT
    assert w3.eth.get_balance(to) == 3 * ETHER // 2
    tx = w3.eth.get_transaction(sent.tx_hash)
    assert tx["from"] == platform_address() and tx["to"] == to
    assert ledger_services.user_balance(rich_alice) == 3_500
    assert_books_balanced(pending=0)


def test_it_sends_a_withdrawal_once(w3, rich_alice):
    to = Account.create().address
    withdrawal, _ = withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="k1")
    first = withdrawal_send(withdrawal_id=withdrawal.pk)
    platform_nonce = w3.eth.get_transaction_count(platform_address())

    again = withdrawal_send(withdrawal_id=withdrawal.pk)

    assert again.status == Withdrawal.Status.SENT and again.tx_hash == first.tx_hash
    assert w3.eth.get_balance(to) == ETHER
    assert w3.eth.get_transaction_count(platform_address()) == platform_nonce
    assert ledger_services.user_balance(rich_alice) == 4_000
    assert_books_balanced(pending=0)


def test_it_finishes_a_send_interrupted_before_the_broadcast(w3, rich_alice):
    # A worker that died after signing: the stored transaction is broadcast by the retry.
    to = Account.create().address
    withdrawal, _ = withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="k1")
    signed = _sign_once(withdrawal.pk)
    assert signed.status == Withdrawal.Status.SENDING and w3.eth.get_balance(to) == 0

    assert withdrawal_send(withdrawal_id=withdrawal.pk).status == Withdrawal.Status.SENT
    assert w3.eth.get_balance(to) == ETHER


def test_it_finishes_a_send_interrupted_after_the_broadcast(w3, rich_alice):
    # A worker that died after broadcasting: the retry finds the mined transaction, pays no more.
    to = Account.create().address
    withdrawal, _ = withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="k1")
    signed = _sign_once(withdrawal.pk)
    w3.eth.send_raw_transaction(bytes.fromhex(signed.raw_tx))

    done = withdrawal_send(withdrawal_id=withdrawal.pk)

    assert done.status == Withdrawal.Status.SENT and done.tx_hash == signed.tx_hash
    assert w3.eth.get_balance(to) == ETHER
    assert ledger_services.user_balance(rich_alice) == 4_000


def test_it_returns_the_credits_when_the_send_fails(w3, settings, alice):
    # The platform holds 10,000 ether on the dev chain: a 20,000 ether withdrawal cannot be sent.
    settings.CREDITS_PER_ETHER = 1
    ledger_services.deposit_credit(user=alice, amount=20_000, key="test:seed-alice-big")
    withdrawal, _ = withdrawal_request(
        user=alice, to_address=Account.create().address, credits=20_000, key="big"
    )
    assert ledger_services.user_balance(alice) == 0

    failed = withdrawal_send(withdrawal_id=withdrawal.pk)

    assert failed.status == Withdrawal.Status.FAILED
    assert "enough balance" in failed.error
    assert ledger_services.user_balance(alice) == 20_000
    # Failing is final: another send neither sends nor returns the credits twice.
    assert withdrawal_send(withdrawal_id=withdrawal.pk).status == Withdrawal.Status.FAILED
    assert ledger_services.user_balance(alice) == 20_000
    assert_books_balanced(pending=0)


def test_it_replays_a_request_with_the_same_key(w3, rich_alice):
    to = Account.create().address
    first, created = withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="same")
    again, created_again = withdrawal_request(
        user=rich_alice, to_address=to, credits=1_000, key="same"
    )

    assert again.pk == first.pk
    assert created and not created_again
    assert ledger_services.user_balance(rich_alice) == 4_000
    assert Withdrawal.objects.count() == 1


def test_it_refuses_the_same_key_for_another_request(w3, rich_alice):
    to = Account.create().address
    withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="same")

    with pytest.raises(IdempotencyConflict, match="already used for a different withdrawal"):
        withdrawal_request(user=rich_alice, to_address=to, credits=2_000, key="same")

    assert ledger_services.user_balance(rich_alice) == 4_000
    assert Withdrawal.objects.count() == 1


def test_it_scopes_keys_to_the_user(w3, rich_alice, bob):
    ledger_services.deposit_credit(user=bob, amount=100, key="test:seed-bob")
    to = Account.create().address
    withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="same")
    bobs, _ = withdrawal_request(user=bob, to_address=to, credits=50, key="same")
    assert bobs.user == bob and ledger_services.user_balance(bob) == 50


def test_it_refuses_more_than_the_balance(w3, rich_alice):
    with pytest.raises(InsufficientFunds):
        withdrawal_request(
            user=rich_alice, to_address=Account.create().address, credits=5_001, key="k"
        )
    assert ledger_services.user_balance(rich_alice) == 5_000
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize(
    ("to_address", "credits", "key", "message"),
    [
        ("0x1234", 10, "k", "not a valid Ethereum address"),
        ("not an address", 10, "k", "not a valid Ethereum address"),
        # A mixed-case address whose EIP-55 checksum is wrong is a typo, not an address.
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", 10, "k", "not a valid Ethereum address"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 0, "k", "positive whole number"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", -5, "k", "positive whole number"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 10, "", "idempotency key"),
    ],
)
def test_it_refuses_bad_input(w3, rich_alice, to_address, credits, key, message):
    with pytest.raises(ChainError, match=message):
        withdrawal_request(user=rich_alice, to_address=to_address, credits=credits, key=key)
    assert ledger_services.user_balance(rich_alice) == 5_000
    assert not Withdrawal.objects.exists()


def test_it_refuses_an_amount_worth_less_than_a_wei(w3, settings, alice):
    settings.CREDITS_PER_ETHER = 10**19
    ledger_services.deposit_credit(user=alice, amount=5, key="test:seed-tiny")
    with pytest.raises(ChainError, match="less than one wei"):
        withdrawal_request(user=alice, to_address=Account.create().address, credits=5, key="k")
    assert ledger_services.user_balance(alice) == 5


@pytest.mark.django_db(transaction=True)
def test_it_signs_only_while_holding_the_platform_signer_lock(w3, rich_alice):
    """Signing and broadcasting are serialised across workers (the nonce depends on it): while
    another worker holds the lock nothing is signed, and the send goes on once it is free."""
    import threading

    from django.db import connections

    from ledger.chain.withdrawals import signer_lock

    to = Account.create().address
    withdrawal, _ = withdrawal_request(user=rich_alice, to_address=to, credits=1_000, key="k1")
    outcome = {}

    def send():
        try:
            outcome["status"] = withdrawal_send(withdrawal_id=withdrawal.pk).status
        finally:
            connections.close_all()

    held = signer_lock()
    assert held.acquire()
    worker = threading.Thread(target=send)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive()
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED and not withdrawal.raw_tx
    held.release()
    worker.join(timeout=30)
    assert outcome["status"] == Withdrawal.Status.SENT
    assert w3.eth.get_balance(to) == ETHER


@pytest.mark.django_db(transaction=True)
def test_it_leaves_the_withdrawal_untouched_when_the_signer_stays_busy(w3, rich_alice, monkeypatch):
    from ledger.chain import withdrawals

    monkeypatch.setattr(withdrawals, "SIGNER_LOCK_WAIT_S", 0.2)
    withdrawal, _ = withdrawal_request(
        user=rich_alice, to_address=Account.create().address, credits=1_000, key="k1"
    )
    held = withdrawals.signer_lock()
    assert held.acquire()
    try:
        with pytest.raises(withdrawals.SignerBusy):
            withdrawal_send(withdrawal_id=withdrawal.pk)
    finally:
        held.release()
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.REQUESTED
    assert ledger_services.user_balance(rich_alice) == 4_000
    assert_books_balanced(pending=1_000)
    # The retry (the task's autoretry on OSError) then sends it.
    assert withdrawal_send(withdrawal_id=withdrawal.pk).status == Withdrawal.Status.SENT
