"""A wallet's first sign-in makes an account with the starter grant of play credits; signing in
again, or linking a wallet to an existing account, grants nothing more."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger import services as ledger
from ledger.models import Transfer, Wallet
from tests.chain.test_siwe import get_nonce, make_message, sign, verify

pytestmark = pytest.mark.django_db


def sign_in(client, settings, key):
    message = make_message(key.address, get_nonce(client), settings)
    response = verify(client, message, sign(message, key))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_new_wallet_account_gets_the_starter_grant_once(client, settings):
    settings.ARENA_STARTER_GRANT = 700
    key = Account.create()
    assert sign_in(client, settings, key)["created_user"] is True
    user = Wallet.objects.get(address=key.address).user
    have = ledger.user_balances(user)
    assert (have.withdrawable, have.play) == (0, 700)
    assert sign_in(client, settings, key)["created_user"] is False
    assert ledger.user_balances(user).play == 700
    assert Transfer.objects.filter(kind="grant").count() == 1


def test_linking_a_wallet_to_an_account_grants_nothing(client, settings, alice):
    settings.ARENA_STARTER_GRANT = 700
    client.force_login(alice)
    assert sign_in(client, settings, Account.create())["linked"] is True
    assert ledger.user_balances(alice).total == 0
