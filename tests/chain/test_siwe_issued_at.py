"""A signed SIWE message lives no longer than its nonce, and expired nonces are swept within a
minute by a periodic task instead of piling up for a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from arena.celery import app
from ledger.models import SiweNonce
from ledger.siwe import CLOCK_SKEW
from ledger.tasks import sweep_siwe_nonces
from tests.chain.test_siwe import assert_refused, get_nonce, iso, make_message, sign, state, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    from eth_account import Account

    return Account.create()


@pytest.mark.parametrize("expires_in", [None, timedelta(hours=1)])
def test_it_refuses_a_message_issued_longer_ago_than_a_nonce_lives(
    client, settings, key, expires_in
):
    """With no Expiration Time, or one far ahead, a message signed more than the nonce's
    lifetime ago (clock skew allowed) is refused and the nonce stays unused."""
    nonce = get_nonce(client)
    now = timezone.now()
    issued = now - timedelta(seconds=settings.SIWE_NONCE_TTL_SECONDS) - 2 * CLOCK_SKEW
    expiry = iso(now + expires_in) if expires_in else None
    message = make_message(
        key.address, nonce, settings, issued_at=iso(issued), expiration_time=expiry
    )
    assert ("Expiration Time" in message) == bool(expires_in)

    assert_refused(client, message, sign(message, key), "was issued more than 600 seconds ago")


def test_it_accepts_a_message_without_expiry_issued_within_the_nonces_life(client, settings, key):
    nonce = get_nonce(client)
    issued = timezone.now() - timedelta(seconds=settings.SIWE_NONCE_TTL_SECONDS) + CLOCK_SKEW
    message = make_message(
        key.address, nonce, settings, issued_at=iso(issued), expiration_time=None
    )
    response = verify(client, message, sign(message, key))
    assert response.status_code == 200, response.content


def test_the_sweep_deletes_every_expired_nonce_and_keeps_live_ones(client):
    live = get_nonce(client)
    used_live = get_nonce(client)
    SiweNonce.objects.filter(nonce=used_live).update(used_at=timezone.now())
    expired = [get_nonce(client) for _ in range(3)]
    # Expired a minute ago, not a day: the old sweep left these for a day.
    SiweNonce.objects.filter(nonce__in=expired).update(
        expires=timezone.now() - timedelta(minutes=1)
    )
    before = state()

    assert sweep_siwe_nonces() == 3

    assert sorted(SiweNonce.objects.values_list("nonce", flat=True)) == sorted([live, used_live])
    assert state()[:2] == before[:2]


def test_beat_runs_the_sweep_every_minute():
    entries = [
        e for e in app.conf.beat_schedule.values() if e["task"] == "ledger.sweep_siwe_nonces"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] <= 60
    app.loader.import_default_modules()
    assert "ledger.sweep_siwe_nonces" in app.tasks
