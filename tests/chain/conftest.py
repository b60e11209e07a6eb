"""Fixtures for the chain tests: a fresh in-process chain per test, funded keys, payments."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import services as ledger_services
from ledger.chain import get_web3, reset_web3
from ledger.models import Wallet
from ledger.selectors import audit_ledger

ETHER = 10**18


@pytest.fixture
def w3(settings):
    """The configured chain; a fresh eth-tester chain for each test unless ETH_RPC_URL is set."""
    reset_web3()
    yield get_web3()
    reset_web3()


def fund(w3, address: str, wei: int) -> None:
    # The node's last unlocked account: on anvil the first one is the platform key.
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": w3.eth.accounts[-1], "to": address, "value": wei})
    )
    assert receipt["status"] == 1


def pay(w3, key: LocalAccount, to: str, wei: int) -> str:
    """Send ``wei`` from ``key`` to ``to``, signed locally as a user's wallet would; the hash."""
    signed = key.sign_transaction(
        {
            "to": to,
            "value": wei,
            "gas": 21_000,
            "gasPrice": w3.eth.gas_price,
            "nonce": w3.eth.get_transaction_count(key.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def mine(w3, blocks: int) -> None:
    if hasattr(w3.provider, "ethereum_tester"):
        w3.provider.ethereum_tester.mine_blocks(blocks)
    else:  # anvil
        w3.provider.make_request("anvil_mine", [hex(blocks)])


@pytest.fixture
def alice_key(w3) -> LocalAccount:
    key = Account.create()
    fund(w3, key.address, 5 * ETHER)
    return key


@pytest.fixture
def alice_wallet(alice, alice_key) -> Wallet:
    return Wallet.objects.create(user=alice, address=alice_key.address)


def assert_books_balanced(*, pending: int = 0) -> None:
    """The ledger audit holds and ``pending`` credits wait in pending withdrawals."""
    report = audit_ledger()
    assert report["ok"], report["problems"]
    pending_account = ledger_services.system_account("pending_withdrawals")
    assert ledger_services.balance(pending_account) == pending
