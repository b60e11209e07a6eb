"""The deposit and withdrawal pages use the same services as the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from eth_account import Account

from ledger import services as ledger_services
from ledger.chain import platform_address
from ledger.models import Withdrawal
from tests.chain.conftest import ETHER, pay

pytestmark = pytest.mark.django_db


def test_it_asks_for_a_login(client):
    for name in ("ledger:deposit", "ledger:withdraw"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "login" in response["Location"]


def test_it_shows_where_to_deposit(client, alice, w3):
    client.force_login(alice)
    page = client.get(reverse("ledger:deposit")).content.decode()
    assert platform_address() in page
    assert "No wallet linked yet" in page
    assert 'id="siwe-login"' in page


def test_it_credits_a_deposit_from_the_form(client, w3, settings, alice, alice_wallet, alice_key):
    settings.CREDITS_PER_ETHER = 10
    client.force_login(alice)
    tx_hash = pay(w3, alice_key, platform_address(), ETHER)

    response = client.post(reverse("ledger:deposit"), {"tx_hash": tx_hash}, follow=True)

    assert "Credited 10 credits" in response.content.decode()
    assert ledger_services.user_balance(alice) == 10


def test_it_shows_why_a_deposit_was_refused(client, w3, alice):
    client.force_login(alice)
    response = client.post(reverse("ledger:deposit"), {"tx_hash": "0x" + "ab" * 32})
    assert response.status_code == 200
    assert "no transaction" in response.content.decode()
    assert ledger_services.user_balance(alice) == 0


def test_it_withdraws_once_per_rendered_form(client, w3, alice, django_capture_on_commit_callbacks):
    ledger_services.deposit_credit(user=alice, amount=1_000, key="test:seed")
    client.force_login(alice)
    form = client.get(reverse("ledger:withdraw")).context["form"]
    key = form.initial["idempotency_key"]
    body = {"to_address": Account.create().address, "credits": 400, "idempotency_key": key}

    with django_capture_on_commit_callbacks(execute=False):
        first = client.post(reverse("ledger:withdraw"), body)
        double = client.post(reverse("ledger:withdraw"), body)  # a double-click

    assert first.status_code == 302 and double.status_code == 302
    assert Withdrawal.objects.filter(user=alice).count() == 1
    assert ledger_services.user_balance(alice) == 600


def test_it_shows_why_a_withdrawal_was_refused(client, w3, alice):
    client.force_login(alice)
    body = {"to_address": Account.create().address, "credits": 5, "idempotency_key": "k"}
    response = client.post(reverse("ledger:withdraw"), body)
    assert response.status_code == 200
    assert not Withdrawal.objects.exists()
    assert response.context["form"].non_field_errors()
