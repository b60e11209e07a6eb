"""What the ``siwe`` library's verify now checks for the site: Not Before, expiry and signatures
that are not points on the curve, each refused with a clear message and nothing changed (the
nonce stays unused); and a signature by another key never reaches for a node (EIP-1271)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account
from web3.providers.auto import AutoProvider

from ledger.models import SiweNonce
from tests.chain.test_siwe import assert_refused, get_nonce, iso, make_message, sign, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    return Account.create()


def test_it_refuses_a_message_not_valid_yet(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(
        key.address, nonce, settings, not_before=iso(timezone.now() + timedelta(minutes=5))
    )
    assert_refused(client, message, sign(message, key), "not valid yet")
    assert SiweNonce.objects.get(nonce=nonce).used_at is None


def test_it_accepts_a_message_whose_not_before_has_passed(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(
        key.address, nonce, settings, not_before=iso(timezone.now() - timedelta(seconds=5))
    )
    response = verify(client, message, sign(message, key))
    assert response.status_code == 200, response.content
    assert SiweNonce.objects.get(nonce=nonce).used_at is not None


def test_an_expired_message_leaves_its_nonce_usable(client, settings, key):
    nonce = get_nonce(client)
    now = timezone.now()
    expired = make_message(
        key.address,
        nonce,
        settings,
        issued_at=iso(now - timedelta(minutes=2)),
        expiration_time=iso(now - timedelta(seconds=1)),
    )
    assert_refused(client, expired, sign(expired, key), "has expired")

    fresh = make_message(key.address, nonce, settings)
    assert verify(client, fresh, sign(fresh, key)).status_code == 200


@pytest.mark.parametrize(
    "signature",
    [
        "0x" + "00" * 64 + "1b",  # r = s = 0
        "0x" + "ff" * 64 + "1c",  # r and s past the curve order
        "0x" + "11" * 64 + "99",  # v neither 27 nor 28
    ],
)
def test_it_refuses_65_bytes_that_are_no_signature(client, settings, key, signature):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    assert_refused(client, message, signature, "not a valid 65-byte Ethereum signature")


@pytest.mark.parametrize("signature", ["0x", "not hex at all", "0x" + "11" * 66])
def test_it_refuses_a_signature_that_is_not_65_bytes_of_hex(client, settings, key, signature):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    assert_refused(client, message, signature, "not a valid 65-byte Ethereum signature")


def test_another_keys_signature_is_refused_without_asking_a_node(
    client, settings, key, monkeypatch
):
    """An address whose signature does not recover could be an EIP-1271 contract wallet; the
    library asks a node about it only when given a provider, and the site gives none."""
    asked = []
    monkeypatch.setattr(AutoProvider, "make_request", lambda *args: asked.append(args))
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)

    assert_refused(client, message, sign(message, Account.create()), "does not match the address")

    assert asked == []
