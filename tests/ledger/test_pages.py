"""The balance and history page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger import services as ledger

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("ledger:balance"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_it_shows_my_balance_and_history(client, alice, bob):
    ledger.grant(user=alice, amount=100, key="g:a", memo="welcome bonus")
    ledger.hold(user=alice, escrow_ref="match:4", amount=25, key="h:a")
    ledger.grant(user=bob, amount=999, key="g:b", memo="bob's secret")
    client.force_login(alice)
    response = client.get(reverse("ledger:balance"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong data-testid="balance">75</strong>' in html
    assert "welcome bonus" in html and "+100" in html and "-25" in html
    assert "bob's secret" not in html and "999" not in html
    assert "creator-revenue" not in html  # alice earns no creator revenue


def test_it_shows_a_creator_their_revenue(client, carol):
    ledger.subsidize(escrow_ref="match:1", amount=10, key="s")
    ledger.settle(
        escrow_ref="match:1",
        key="st",
        payouts=[(ledger.creator_revenue_account(carol), 10)],
    )
    client.force_login(carol)
    html = client.get(reverse("ledger:balance")).content.decode()
    assert '<span data-testid="creator-revenue">10</span>' in html


def test_it_pages_a_long_history(client, alice):
    for i in range(55):
        ledger.grant(user=alice, amount=1, key=f"g:{i}")
    client.force_login(alice)
    first = client.get(reverse("ledger:balance")).content.decode()
    assert "Page 1 of 2" in first
    second = client.get(reverse("ledger:balance") + "?page=2").content.decode()
    assert second.count("<tr>") == 1 + 5  # header + the 5 oldest
