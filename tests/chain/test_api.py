"""The chain API: deposits and withdrawals under /api/v1/, own rows only, clear 4xx."""

from __future__ import annotations

import pytest
from eth_account import Account
from rest_framework.test import APIClient

from ledger import services as ledger_services
from ledger.chain import platform_address
from ledger.models import ChainDeposit, Withdrawal
from tests.chain.conftest import ETHER, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_it_requires_authentication(client):
    for url in ("/api/v1/deposits", "/api/v1/withdrawals", "/api/v1/wallets"):
        assert client.get(url).status_code == 403
    assert client.post("/api/v1/deposits", {"tx_hash": "0x" + "ab" * 32}).status_code == 403


def test_it_tells_where_to_deposit(client, settings):
    body = client.get("/api/v1/chain").json()
    assert body["platform_address"] == platform_address()
    assert body["chain_id"] == settings.ETH_CHAIN_ID
    assert body["credits_per_ether"] == settings.CREDITS_PER_ETHER


def test_it_claims_and_lists_a_deposit(api, w3, settings, alice, alice_wallet, alice_key, mallory):
    settings.CREDITS_PER_ETHER = 100
    tx_hash = pay(w3, alice_key, platform_address(), 2 * ETHER)

    response = api.post("/api/v1/deposits", {"tx_hash": tx_hash}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["credits"] == 200
    assert response.json()["wei"] == str(2 * ETHER)  # a string: wei overflows JSON numbers
    assert ledger_services.user_balance(alice) == 200
    listed = api.get("/api/v1/deposits").json()
    assert [d["tx_hash"] for d in listed] == [tx_hash]
    outsider = APIClient()
    outsider.force_authenticate(mallory)
    assert outsider.get("/api/v1/deposits").json() == []


def test_it_explains_a_refused_deposit(api, w3, alice, alice_wallet, alice_key):
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)
    api.post("/api/v1/deposits", {"tx_hash": tx_hash}, format="json")
    balance = ledger_services.user_balance(alice)

    again = api.post("/api/v1/deposits", {"tx_hash": tx_hash}, format="json")
    bad = api.post("/api/v1/deposits", {"tx_hash": "nope"}, format="json")
    missing = api.post("/api/v1/deposits", {}, format="json")

    assert again.status_code == 400 and "already credited" in again.json()["detail"]
    assert bad.status_code == 400 and "64 hexadecimal digits" in bad.json()["detail"]
    assert missing.status_code == 400 and "tx_hash" in missing.json()
    assert ledger_services.user_balance(alice) == balance
    assert ChainDeposit.objects.count() == 1


def test_it_requests_a_withdrawal_and_enqueues_the_send(
    api, w3, settings, alice, django_capture_on_commit_callbacks
):
    settings.CREDITS_PER_ETHER = 1_000
    ledger_services.deposit_credit(user=alice, amount=3_000, key="test:seed")
    to = Account.create().address
    body = {"to_address": to, "credits": 1_000, "idempotency_key": "w-1"}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = api.post("/api/v1/withdrawals", body, format="json")
    with django_capture_on_commit_callbacks(execute=False) as replay_callbacks:
        replay = api.post("/api/v1/withdrawals", body, format="json")

    assert first.status_code == 201, first.content
    assert first.json()["status"] == "requested" and first.json()["wei"] == str(ETHER)
    assert len(callbacks) == 1  # the send task, once the debit is committed
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert replay_callbacks == []
    assert ledger_services.user_balance(alice) == 2_000
    assert [w["id"] for w in api.get("/api/v1/withdrawals").json()] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"to_address": "0x12", "credits": 10, "idempotency_key": "k"}, "not a valid Ethereum"),
        (
            {"to_address": "0x" + "11" * 20, "credits": 10**9, "idempotency_key": "k"},
            "you have 100 withdrawable credits",
        ),
        ({"to_address": "0x" + "11" * 20, "credits": 0, "idempotency_key": "k"}, "credits"),
        ({"to_address": "0x" + "11" * 20, "credits": "ten", "idempotency_key": "k"}, "credits"),
        ({"to_address": "0x" + "11" * 20, "credits": 10}, "idempotency_key"),
    ],
)
def test_it_refuses_a_bad_withdrawal(api, w3, alice, body, expected):
    ledger_services.deposit_credit(user=alice, amount=100, key="test:seed")
    response = api.post("/api/v1/withdrawals", body, format="json")
    assert response.status_code == 400
    assert expected in str(response.json()).lower() or expected in str(response.json())
    assert ledger_services.user_balance(alice) == 100
    assert not Withdrawal.objects.exists()


def test_it_refuses_to_withdraw_play_credits(api, w3, alice):
    ledger_services.deposit_credit(user=alice, amount=100, key="test:seed")
    ledger_services.grant(user=alice, amount=900, key="test:grant")
    body = {"to_address": "0x" + "11" * 20, "credits": 101, "idempotency_key": "k"}
    response = api.post("/api/v1/withdrawals", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "you have 100 withdrawable credits and asked to withdraw 101; "
        "your 900 play credits cannot be withdrawn"
    )
    assert ledger_services.user_balance(alice) == 1000
    assert not Withdrawal.objects.exists()


def test_it_publishes_the_chain_endpoints_in_the_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/siwe/nonce",
        "/api/v1/siwe/verify",
        "/api/v1/deposits",
        "/api/v1/withdrawals",
    ):
        assert path in schema["paths"], path
