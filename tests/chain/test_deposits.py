"""Chain deposits on the in-process chain: credited once, and only when everything checks out."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import services as ledger_services
from ledger.chain import AlreadyCredited, DepositRejected, deposit_claim, platform_address
from ledger.models import ChainDeposit, Wallet
from ledger.tasks import scan_deposits
from tests.chain.conftest import ETHER, assert_books_balanced, fund, mine, pay

pytestmark = pytest.mark.django_db


def test_it_credits_a_payment_from_a_linked_wallet(w3, settings, alice, alice_wallet, alice_key):
    settings.CREDITS_PER_ETHER = 1_000
    tx_hash = pay(w3, alice_key, platform_address(), 3 * ETHER // 2)

    deposit = deposit_claim(user=alice, tx_hash=tx_hash)

    assert deposit.credits == 1_500
    assert int(deposit.wei) == 3 * ETHER // 2
    assert deposit.from_address == alice_key.address
    assert deposit.status == ChainDeposit.Status.CREDITED
    assert ledger_services.user_balance(alice) == 1_500
    assert_books_balanced()


def test_it_credits_a_transaction_once(w3, alice, alice_wallet, alice_key):
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)
    deposit_claim(user=alice, tx_hash=tx_hash)
    balance = ledger_services.user_balance(alice)

    with pytest.raises(AlreadyCredited, match="already credited"):
        deposit_claim(user=alice, tx_hash=tx_hash.upper().replace("0X", "0x"))

    assert ledger_services.user_balance(alice) == balance
    assert ChainDeposit.objects.count() == 1


def test_it_rounds_wei_down_to_whole_credits(w3, settings, alice, alice_wallet, alice_key):
    settings.CREDITS_PER_ETHER = 3
    tx_hash = pay(w3, alice_key, platform_address(), ETHER - 1)  # 2.999... credits
    assert deposit_claim(user=alice, tx_hash=tx_hash).credits == 2


def refused(user, tx_hash, match):
    before = (ledger_services.user_balance(user), ChainDeposit.objects.count())
    with pytest.raises(DepositRejected, match=match):
        deposit_claim(user=user, tx_hash=tx_hash)
    assert (ledger_services.user_balance(user), ChainDeposit.objects.count()) == before


def test_it_refuses_an_unknown_transaction(w3, alice, alice_wallet):
    refused(alice, "0x" + "ab" * 32, "no transaction")


def test_it_refuses_a_malformed_hash(w3, alice, alice_wallet):
    refused(alice, "0x1234", "0x followed by 64 hexadecimal digits")
    refused(alice, "'; drop table --", "0x followed by 64 hexadecimal digits")


def test_it_refuses_a_payment_to_another_address(w3, alice, alice_wallet, alice_key):
    tx_hash = pay(w3, alice_key, Account.create().address, ETHER)
    refused(alice, tx_hash, "not the platform address")


def test_it_refuses_a_payment_from_someone_elses_wallet(
    w3, alice, alice_wallet, alice_key, mallory
):
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)
    refused(mallory, tx_hash, "not one of your linked wallets")


def test_it_refuses_a_payment_from_a_wallet_not_linked_yet(w3, alice):
    stranger = Account.create()
    fund(w3, stranger.address, ETHER)
    tx_hash = pay(w3, stranger, platform_address(), ETHER // 2)
    refused(alice, tx_hash, "not one of your linked wallets")


def test_it_waits_for_the_configured_confirmations(w3, settings, alice, alice_wallet, alice_key):
    settings.ETH_CONFIRMATIONS = 3
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)

    refused(alice, tx_hash, "has 1 confirmation.*3 are needed")
    mine(w3, 2)

    assert deposit_claim(user=alice, tx_hash=tx_hash).credits > 0


def test_it_refuses_a_zero_value_transaction(w3, alice, alice_wallet, alice_key):
    tx_hash = pay(w3, alice_key, platform_address(), 0)
    refused(alice, tx_hash, "carries no ether")


def test_it_refuses_a_payment_worth_less_than_a_credit(
    w3, settings, alice, alice_wallet, alice_key
):
    settings.CREDITS_PER_ETHER = 1
    tx_hash = pay(w3, alice_key, platform_address(), ETHER - 1)
    refused(alice, tx_hash, "less than one credit")


def test_it_scans_recent_blocks_for_deposits(w3, settings, alice, alice_wallet, alice_key, bob):
    settings.CREDITS_PER_ETHER = 10
    first = pay(w3, alice_key, platform_address(), ETHER)
    pay(w3, alice_key, Account.create().address, ETHER)  # not to the platform: ignored
    second = pay(w3, alice_key, platform_address(), 2 * ETHER)
    bob_key = Account.create()
    fund(w3, bob_key.address, 2 * ETHER)
    pay(w3, bob_key, platform_address(), ETHER)  # bob linked no wallet: ignored

    credited = scan_deposits()

    assert sorted(credited) == sorted([first, second])
    assert ledger_services.user_balance(alice) == 30
    assert ledger_services.user_balance(bob) == 0
    # A second scan finds the same transfers already credited.
    assert scan_deposits() == []
    assert ledger_services.user_balance(alice) == 30
    # And once bob links the wallet, the next scan credits his transfer too.
    Wallet.objects.create(user=bob, address=bob_key.address)
    assert len(scan_deposits()) == 1
    assert ledger_services.user_balance(bob) == 10


def test_it_leaves_unconfirmed_transfers_for_a_later_scan(
    w3, settings, alice, alice_wallet, alice_key
):
    settings.ETH_CONFIRMATIONS = 2
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)
    assert scan_deposits() == []
    mine(w3, 1)
    assert scan_deposits() == [tx_hash]
