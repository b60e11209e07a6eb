"""Sign-In with Ethereum: every field is checked and a refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from ledger.models import SiweNonce, Wallet

pytestmark = pytest.mark.django_db

DOMAIN = "testserver"  # the Django test client's host
NONCE_URL = "/api/v1/siwe/nonce"
VERIFY_URL = "/api/v1/siwe/verify"


def iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def make_message(address: str, nonce: str, settings, **overrides) -> str:
    now = timezone.now()
    fields = {
        "domain": DOMAIN,
        "address": address,
        "statement": "Sign in to Arena.",
        "uri": f"http://{DOMAIN}",
        "version": "1",
        "chain_id": settings.ETH_CHAIN_ID,
        "nonce": nonce,
        "issued_at": iso(now),
        "expiration_time": iso(now + timedelta(minutes=10)),
    }
    fields.update(overrides)
    return SiweMessage(**fields).prepare_message()


def sign(message: str, key) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=message), key.key).signature).hex()


def get_nonce(client) -> str:
    response = client.post(NONCE_URL)
    assert response.status_code == 201, response.content
    return response.json()["nonce"]


def verify(client, message: str, signature: str):
    return client.post(
        VERIFY_URL, {"message": message, "signature": signature}, content_type="application/json"
    )


def logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def state() -> tuple:
    """Everything a sign-in may change."""
    return (
        get_user_model().objects.count(),
        sorted(Wallet.objects.values_list("user_id", "address")),
        sorted(SiweNonce.objects.values_list("nonce", "used_at")),
    )


@pytest.fixture
def key():
    return Account.create()


# --- happy paths ------------------------------------------------------------------------------


def test_it_signs_in_a_new_wallet_creating_an_account(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)

    response = verify(client, message, sign(message, key))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["address"] == key.address
    assert body["created_user"] is True and body["linked"] is True
    wallet = Wallet.objects.get(address=key.address)
    assert logged_in_user_id(client) == str(wallet.user_id)
    assert not wallet.user.has_usable_password()
    assert SiweNonce.objects.get(nonce=nonce).used_at is not None


def test_it_logs_in_the_owner_of_a_known_wallet(client, settings, key, bob):
    Wallet.objects.create(user=bob, address=key.address)
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)

    response = verify(client, message, sign(message, key))

    assert response.status_code == 200, response.content
    assert response.json()["created_user"] is False
    assert logged_in_user_id(client) == str(bob.pk)
    assert get_user_model().objects.count() == 1


def test_it_links_the_wallet_to_the_signed_in_user(client, settings, key, alice):
    client.force_login(alice)
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)

    response = verify(client, message, sign(message, key))

    assert response.status_code == 200, response.content
    assert response.json()["linked"] is True
    assert list(alice.wallets.values_list("address", flat=True)) == [key.address]
    assert get_user_model().objects.count() == 1


def test_it_accepts_the_configured_domain(client, settings, key):
    settings.SIWE_DOMAIN = "arena.example"
    nonce = get_nonce(client)
    message = make_message(
        key.address, nonce, settings, domain="arena.example", uri="https://arena.example/login"
    )
    assert verify(client, message, sign(message, key)).status_code == 200


# --- refusals: a clear message and nothing changed -------------------------------------------


def assert_refused(client, message, signature, expected_text):
    before = state()
    response = verify(client, message, signature)
    assert response.status_code == 400, response.content
    assert expected_text in response.json()["detail"]
    assert state() == before
    assert logged_in_user_id(client) is None
    return response


def test_it_refuses_a_replayed_nonce(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    signature = sign(message, key)
    assert verify(client, message, signature).status_code == 200
    client.logout()

    assert_refused(client, message, signature, "already used")


def test_it_refuses_a_wrong_domain(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(
        key.address, nonce, settings, domain="evil.example", uri="https://evil.example"
    )
    assert_refused(client, message, sign(message, key), "is for domain 'evil.example'")
    assert SiweNonce.objects.get(nonce=nonce).used_at is None


def test_it_refuses_a_uri_on_another_site(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings, uri="https://evil.example/login")
    assert_refused(client, message, sign(message, key), "is not on this site")


def test_it_refuses_a_wrong_chain(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings, chain_id=1)
    assert_refused(client, message, sign(message, key), "is for chain 1")


def test_it_refuses_an_expired_message(client, settings, key):
    nonce = get_nonce(client)
    past = timezone.now() - timedelta(minutes=5)
    message = make_message(
        key.address,
        nonce,
        settings,
        issued_at=iso(past - timedelta(minutes=1)),
        expiration_time=iso(past),
    )
    assert_refused(client, message, sign(message, key), "has expired")


def test_it_refuses_a_message_issued_in_the_future(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(
        key.address, nonce, settings, issued_at=iso(timezone.now() + timedelta(hours=1))
    )
    assert_refused(client, message, sign(message, key), "Issued At is in the future")


def test_it_refuses_an_edited_message(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    signature = sign(message, key)
    edited = message.replace("Sign in to Arena.", "Sign in to Arena and give away everything.")
    assert_refused(client, edited, signature, "does not match the address")


def test_it_refuses_a_signature_by_another_key(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    assert_refused(client, message, sign(message, Account.create()), "does not match the address")


def test_it_refuses_an_expired_nonce(client, settings, key):
    nonce = get_nonce(client)
    SiweNonce.objects.filter(nonce=nonce).update(expires=timezone.now() - timedelta(seconds=1))
    message = make_message(key.address, nonce, settings)
    assert_refused(client, message, sign(message, key), "nonce has expired")


def test_it_refuses_a_nonce_it_never_issued(client, settings, key):
    message = make_message(key.address, "madeup12345678", settings)
    assert_refused(client, message, sign(message, key), "unknown nonce")


def test_it_refuses_text_that_is_not_eip4361(client, key):
    assert_refused(
        client, "hello, let me in", sign("hello, let me in", key), "not a valid EIP-4361 message"
    )


def test_it_refuses_a_malformed_signature(client, settings, key):
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    assert_refused(client, message, "0x1234", "not a valid 65-byte Ethereum signature")


def test_it_refuses_a_wallet_linked_to_another_account(client, settings, key, alice, bob):
    Wallet.objects.create(user=bob, address=key.address)
    client.force_login(alice)
    nonce = get_nonce(client)
    message = make_message(key.address, nonce, settings)
    before = state()

    response = verify(client, message, sign(message, key))

    assert response.status_code == 400
    assert "linked to another account" in response.json()["detail"]
    assert state() == before  # the nonce was not burnt either


def test_it_refuses_a_verify_without_csrf_token(settings, key):
    # Login CSRF: another site must not be able to sign a visitor into the attacker's account.
    browser = Client(enforce_csrf_checks=True)
    nonce = get_nonce(browser)
    message = make_message(key.address, nonce, settings)
    before = state()

    response = verify(browser, message, sign(message, key))

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert state() == before


# --- the nonce endpoint ------------------------------------------------------------------------


def test_it_issues_distinct_expiring_nonces(client, settings):
    settings.SIWE_NONCE_TTL_SECONDS = 120
    first, second = client.post(NONCE_URL).json(), client.post(NONCE_URL).json()
    assert first["nonce"] != second["nonce"] and len(first["nonce"]) >= 8
    assert first["chain_id"] == settings.ETH_CHAIN_ID and first["domain"] == DOMAIN
    expires = SiweNonce.objects.get(nonce=first["nonce"]).expires
    assert timedelta(seconds=110) < expires - timezone.now() <= timedelta(seconds=120)


def test_it_returns_the_checksummed_address_for_the_message(client, key):
    response = client.post(NONCE_URL, {"address": key.address.lower()})
    assert response.status_code == 201
    assert response.json()["address"] == key.address


def test_it_refuses_a_bad_address_for_a_nonce(client):
    before = SiweNonce.objects.count()
    response = client.post(NONCE_URL, {"address": "0xnothex"})
    assert response.status_code == 400
    assert "not an Ethereum address" in str(response.json())
    assert SiweNonce.objects.count() == before
