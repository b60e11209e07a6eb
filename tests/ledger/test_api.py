"""/api/v1/me, /api/v1/balance, /api/v1/transfers: your own data, nobody else's."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ledger import services as ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def history(alice, bob, carol):
    ledger.grant(user=alice, amount=100, key="g:a", memo="welcome")
    ledger.grant(user=bob, amount=100, key="g:b")
    ledger.hold(user=alice, escrow_ref="match:1", amount=30, key="h:a")
    ledger.hold(user=bob, escrow_ref="match:1", amount=30, key="h:b")
    ledger.settle(
        escrow_ref="match:1",
        key="s:1",
        payouts=[(ledger.user_account(bob), 50), (ledger.creator_revenue_account(carol), 10)],
    )


@pytest.mark.parametrize("url", ["/api/v1/me", "/api/v1/balance", "/api/v1/transfers"])
def test_it_requires_authentication(api, url):
    assert api.get(url).status_code in (401, 403)


def test_it_describes_me(api, alice, history):
    api.force_authenticate(alice)
    data = api.get("/api/v1/me").json()
    assert data == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "is_staff": False,
        "balance": 70,
        "wallets": [],
    }


def test_it_lists_my_linked_wallets(api, alice):
    from ledger.models import Wallet

    Wallet.objects.create(user=alice, address="0x" + "ab" * 20)
    api.force_authenticate(alice)
    assert api.get("/api/v1/me").json()["wallets"] == ["0x" + "ab" * 20]


def test_it_reports_balances_with_a_token(api, carol, history):
    token = Token.objects.create(user=carol)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/balance").json() == {
        "balance": 0,
        "withdrawable": 0,
        "play": 0,
        "creator_revenue": 10,
    }


def test_it_lists_only_my_transfers_newest_first(api, bob, history):
    api.force_authenticate(bob)
    data = api.get("/api/v1/transfers").json()
    assert data["count"] == 3
    rows = data["results"]
    assert [(r["kind"], r["amount"], r["net"]) for r in rows] == [
        ("payout", 50, 50),
        ("hold", 30, -30),
        ("grant", 100, 100),
    ]
    # Granted credits are play credits: the hold and the payout use bob's play account.
    assert rows[1]["debit"] == "play:bob" and rows[1]["credit"] == "escrow:match:1"
    assert [r["play"] for r in rows] == [50, 30, 100]
    assert all("alice" not in (r["debit"] + r["credit"]) for r in rows)


def test_it_shows_an_outsider_nothing(api, mallory, history):
    api.force_authenticate(mallory)
    assert api.get("/api/v1/transfers").json()["count"] == 0
    assert api.get("/api/v1/balance").json() == {
        "balance": 0,
        "withdrawable": 0,
        "play": 0,
        "creator_revenue": 0,
    }


def test_it_paginates_transfers(api, alice):
    for i in range(7):
        ledger.grant(user=alice, amount=1, key=f"g:{i}")
    api.force_authenticate(alice)
    data = api.get("/api/v1/transfers?limit=3&offset=3").json()
    assert data["count"] == 7 and len(data["results"]) == 3 and data["next"] and data["previous"]


def test_it_refuses_writes_on_read_only_endpoints(api, alice):
    api.force_authenticate(alice)
    for url in ["/api/v1/me", "/api/v1/balance", "/api/v1/transfers"]:
        assert api.post(url, {"balance": 10**6}, format="json").status_code == 405
    assert ledger.user_balance(alice) == 0


def test_it_publishes_the_endpoints_in_the_schema(client):
    import yaml

    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    for path in ["/api/v1/me", "/api/v1/balance", "/api/v1/transfers"]:
        assert "get" in schema["paths"][path]
    props = schema["components"]["schemas"]["Transfer"]["properties"]
    assert {"kind", "amount", "net", "debit", "credit"} <= props.keys()
