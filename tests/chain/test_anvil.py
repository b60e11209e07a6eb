"""Deposits and withdrawals against a real node: anvil, from the npm package @foundry-rs/anvil.

Install it with ``npm install --no-save @foundry-rs/anvil`` in the repository root. The test starts
anvil on a free loopback port, points ETH_RPC_URL at it, and stops it afterwards.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import services as ledger_services
from ledger.chain import (
    DepositRejected,
    deposit_claim,
    get_web3,
    platform_address,
    reset_web3,
    withdrawal_request,
    withdrawal_send,
)
from ledger.chain.anvil import ANVIL_CHAIN_ID, ANVIL_KEY_0, AnvilNode, anvil_binary
from ledger.models import Wallet, Withdrawal
from tests.chain.conftest import ETHER, assert_books_balanced, fund, mine, pay

pytestmark = pytest.mark.chain_node


@pytest.fixture
def anvil_url(tmp_path):
    if anvil_binary() is None:
        pytest.skip("needs service: anvil (npm install)")
    with AnvilNode(log_path=tmp_path / "anvil.log") as node:
        yield node.url


@pytest.fixture
def node(anvil_url, settings):
    settings.ETH_RPC_URL = anvil_url
    settings.ETH_CHAIN_ID = ANVIL_CHAIN_ID
    settings.ETH_PLATFORM_PRIVATE_KEY = ANVIL_KEY_0
    settings.CREDITS_PER_ETHER = 1_000
    reset_web3()
    yield get_web3()
    reset_web3()


@pytest.mark.django_db
def test_it_deposits_and_withdraws_on_a_real_node(node, settings, alice):
    assert "HTTPProvider" in type(node.provider).__name__
    assert platform_address() == Account.from_key(ANVIL_KEY_0).address
    key = Account.create()
    fund(node, key.address, 3 * ETHER)
    Wallet.objects.create(user=alice, address=key.address)

    # Deposit: refused until confirmed, then credited once.
    settings.ETH_CONFIRMATIONS = 2
    tx_hash = pay(node, key, platform_address(), 2 * ETHER)
    with pytest.raises(DepositRejected, match="1 confirmation"):
        deposit_claim(user=alice, tx_hash=tx_hash)
    mine(node, 1)
    assert deposit_claim(user=alice, tx_hash=tx_hash).credits == 2_000
    with pytest.raises(DepositRejected, match="already credited"):
        deposit_claim(user=alice, tx_hash=tx_hash)
    assert ledger_services.user_balance(alice) == 2_000

    # Withdrawal: debited, sent by the platform key, sent once.
    to = Account.create().address
    withdrawal, _ = withdrawal_request(user=alice, to_address=to, credits=500, key="w1")
    sent = withdrawal_send(withdrawal_id=withdrawal.pk)
    assert sent.status == Withdrawal.Status.SENT
    assert node.eth.get_balance(to) == ETHER // 2
    assert node.eth.get_transaction(sent.tx_hash)["from"] == platform_address()
    withdrawal_send(withdrawal_id=withdrawal.pk)
    assert node.eth.get_balance(to) == ETHER // 2
    assert ledger_services.user_balance(alice) == 1_500
    assert_books_balanced(pending=0)


@pytest.mark.django_db
def test_it_returns_credits_when_a_real_node_refuses_the_send(node, settings, alice):
    settings.CREDITS_PER_ETHER = 1  # anvil's accounts hold 10,000 ether: ask for more
    ledger_services.deposit_credit(user=alice, amount=50_000, key="test:seed")
    withdrawal, _ = withdrawal_request(
        user=alice, to_address=Account.create().address, credits=50_000, key="too-much"
    )

    failed = withdrawal_send(withdrawal_id=withdrawal.pk)

    assert failed.status == Withdrawal.Status.FAILED
    assert "refused" in failed.error
    assert ledger_services.user_balance(alice) == 50_000


@pytest.mark.django_db(transaction=True)
def test_it_sends_concurrent_withdrawals_with_distinct_nonces(node, settings, alice):
    """Four withdrawals sent by four threads at once (as four workers would) all get mined:
    the signer lock keeps their nonces apart."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    ledger_services.deposit_credit(user=alice, amount=4_000, key="test:seed")
    targets = [Account.create().address for _ in range(4)]
    ids = [
        withdrawal_request(user=alice, to_address=to, credits=100, key=f"w{i}").withdrawal.pk
        for i, to in enumerate(targets)
    ]

    def send(withdrawal_id):
        try:
            return withdrawal_send(withdrawal_id=withdrawal_id)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(send, ids))

    assert [w.status for w in done] == [Withdrawal.Status.SENT] * 4
    nonces = {node.eth.get_transaction(w.tx_hash)["nonce"] for w in done}
    assert len(nonces) == 4
    assert all(node.eth.get_balance(to) == ETHER // 10 for to in targets)
    assert_books_balanced(pending=0)


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_withdrawal_from_a_real_worker(node, settings, alice, monkeypatch, tmp_path):
    """The Celery task in a real worker process, which reaches the same node through its env."""
    from ledger.tasks import send_withdrawal
    from tests.conftest import WorkerProcess

    ledger_services.deposit_credit(user=alice, amount=1_000, key="test:seed")
    withdrawal, _ = withdrawal_request(
        user=alice, to_address=Account.create().address, credits=250, key="via-worker"
    )
    for name, value in {
        "ETH_RPC_URL": settings.ETH_RPC_URL,
        "ETH_CHAIN_ID": str(settings.ETH_CHAIN_ID),
        "ETH_PLATFORM_PRIVATE_KEY": settings.ETH_PLATFORM_PRIVATE_KEY,
        "CREDITS_PER_ETHER": str(settings.CREDITS_PER_ETHER),
    }.items():
        monkeypatch.setenv(name, value)
    worker = WorkerProcess(tmp_path / "worker.log", queues="default").start()
    try:
        status = send_withdrawal.delay(withdrawal.pk).get(timeout=60)
    finally:
        worker.stop()

    assert status == "sent", worker.log()
    withdrawal.refresh_from_db()
    assert node.eth.get_balance(withdrawal.to_address) == ETHER // 4
    assert ledger_services.user_balance(alice) == 750
    assert_books_balanced(pending=0)
