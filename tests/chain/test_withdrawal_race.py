"""Withdrawal requests repeating one idempotency key: one creates the withdrawal (201) and queues
its send; every other one is answered as a replay (200) and queues nothing, even when they race.

The queued sends are read back from the Celery broker itself (the Redis queue ``default``), not
from a patched ``delay``."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.urls import reverse
from eth_account import Account
from rest_framework.test import APIClient

from arena.celery import app
from ledger import services as ledger_services
from ledger.models import Withdrawal
from tests.chain.conftest import assert_books_balanced

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 8


def drain_queued_sends() -> list[int]:
    """Take every message off the default queue; the withdrawal ids of the send tasks."""
    sends = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue("default")
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                if message.headers.get("task") == "ledger.send_withdrawal":
                    args, _kwargs, _embed = message.decode()
                    sends.append(args[0])
                message.ack()
        finally:
            queue.close()
    return sends


@pytest.fixture
def rich_alice(alice, settings):
    settings.CREDITS_PER_ETHER = 1_000
    ledger_services.deposit_credit(user=alice, amount=5_000, key="test:seed-alice")
    drain_queued_sends()  # nothing left over from earlier tests
    return alice


def request_body(key: str = "same-key") -> dict:
    return {"to_address": Account.create().address, "credits": 1_000, "idempotency_key": key}


def test_a_replay_is_answered_200_and_queues_no_second_send(rich_alice, client):
    api = APIClient()
    api.force_authenticate(rich_alice)
    body = request_body()

    first = api.post("/api/v1/withdrawals", body, format="json")
    replay = api.post("/api/v1/withdrawals", body, format="json")
    client.force_login(rich_alice)
    page = client.post(reverse("ledger:withdraw"), body)  # the page's double submit

    assert (first.status_code, replay.status_code, page.status_code) == (201, 200, 302)
    assert drain_queued_sends() == [first.json()["id"]]
    assert ledger_services.user_balance(rich_alice) == 4_000


def test_a_new_withdrawal_from_the_page_queues_its_send(rich_alice, client):
    client.force_login(rich_alice)
    assert client.post(reverse("ledger:withdraw"), request_body("page-key")).status_code == 302
    assert drain_queued_sends() == [Withdrawal.objects.get(idempotency_key="page-key").pk]


@pytest.mark.postgres
def test_racing_requests_with_one_key_create_one_withdrawal_and_queue_one_send(rich_alice):
    body = request_body()
    barrier = threading.Barrier(RACERS)
    codes: list[int] = []
    errors: list[BaseException] = []

    def racer():
        try:
            api = APIClient()
            api.force_authenticate(rich_alice)
            barrier.wait(timeout=30)
            codes.append(api.post("/api/v1/withdrawals", body, format="json").status_code)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert sorted(codes) == [200] * (RACERS - 1) + [201]
    withdrawal = Withdrawal.objects.get()
    assert drain_queued_sends() == [withdrawal.pk]
    assert ledger_services.user_balance(rich_alice) == 4_000
    assert_books_balanced(pending=1_000)
