"""Rate limits (ledger/throttling.py) on the ledger's entry points, at the production defaults:
the SIWE nonce and verify endpoints per IP, withdrawals per user (API and page share a budget),
each refusal a 429 with Retry-After; and the counters are exact across processes."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from rest_framework.test import APIClient

from ledger.models import SiweNonce, Withdrawal
from ledger.throttling import counter_hit, parse_rate

pytestmark = pytest.mark.django_db

NONCE_URL = "/api/v1/siwe/nonce"
VERIFY_URL = "/api/v1/siwe/verify"


def assert_throttled(response, window_s: int) -> None:
    assert response.status_code == 429, response.content
    # The limiter's clock is pinned one second into a window (production_rate_limits).
    assert response["Retry-After"] == str(window_s - 1)


def test_the_defaults_are_the_documented_limits(production_rate_limits):
    rates = django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {
        "siwe_nonce": "10/min",
        "siwe_verify": "10/min",
        "token_login": "10/min",
        "register": "10/hour",
        "entry": "60/min",
        "withdrawal": "10/hour",
        "preferences_export": "30/hour",
        "training": "10/min",
        "practice": "10/min",
    }
    assert parse_rate("10/hour") == (10, 3600)
    assert django_settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # X-Forwarded-For not trusted


def test_it_throttles_nonces_per_ip_and_stores_no_refused_one(client, production_rate_limits):
    for i in range(10):
        # A forged X-Forwarded-For does not make a new client.
        response = client.post(NONCE_URL, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.{i}")
        assert response.status_code == 201, response.content

    refused = client.post(NONCE_URL, REMOTE_ADDR="203.0.113.5")

    assert_throttled(refused, 60)
    assert "throttled" in refused.json()["detail"]
    assert SiweNonce.objects.count() == 10
    assert client.post(NONCE_URL, REMOTE_ADDR="203.0.113.6").status_code == 201
    # The window over, the first client may ask again.
    production_rate_limits.advance(60)
    assert client.post(NONCE_URL, REMOTE_ADDR="203.0.113.5").status_code == 201


def test_an_ipv6_client_counts_as_its_64_network(client, production_rate_limits):
    for i in range(10):  # one subscriber's /64 holds 2**64 addresses
        response = client.post(NONCE_URL, REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}")
        assert response.status_code == 201
    assert_throttled(client.post(NONCE_URL, REMOTE_ADDR="2001:db8:1:2:ffff::1"), 60)
    assert client.post(NONCE_URL, REMOTE_ADDR="2001:db8:1:3::1").status_code == 201


def test_it_issues_nonces_by_post_only(client):
    response = client.get(NONCE_URL)
    assert response.status_code == 405
    assert not SiweNonce.objects.exists()


def test_it_throttles_sign_in_attempts_per_ip(client, production_rate_limits):
    body = {"message": "not a SIWE message", "signature": "0x00"}
    for _ in range(10):
        response = client.post(VERIFY_URL, body, content_type="application/json")
        assert response.status_code == 400
    assert_throttled(client.post(VERIFY_URL, body, content_type="application/json"), 60)


def test_it_throttles_withdrawal_requests_per_user_across_api_and_page(
    client, alice, bob, production_rate_limits
):
    api = APIClient()
    api.force_authenticate(alice)
    bad = {"to_address": "0x12", "credits": 1, "idempotency_key": "k"}
    for _ in range(10):
        assert api.post("/api/v1/withdrawals", bad, format="json").status_code == 400

    assert_throttled(api.post("/api/v1/withdrawals", bad, format="json"), 3600)
    assert api.get("/api/v1/withdrawals").status_code == 200  # reading is not limited
    client.force_login(alice)
    page = client.post(reverse("ledger:withdraw"), bad)
    assert_throttled(page, 3600)
    assert "Too many requests" in page.content.decode()
    assert not Withdrawal.objects.exists()
    # Another user has a budget of their own.
    other = APIClient()
    other.force_authenticate(bob)
    assert other.post("/api/v1/withdrawals", bad, format="json").status_code == 400


COUNT_SCRIPT = """
import sys
import django

django.setup()
from django.test import RequestFactory

from arena.login_limit import login_attempt
from ledger.throttling import counter_hit

name, ip = sys.argv[1], sys.argv[2]
request = RequestFactory().post("/", REMOTE_ADDR=ip)
counted = sum(counter_hit(name=name, limit=15, window_s=86400) == 0 for _ in range(10))
logins = sum(login_attempt(request=request, username=name) == 0 for _ in range(10))
print(counted, logins)
"""


def test_processes_share_one_exact_count():
    """Four processes counting at once let exactly the limit through: the counters live in the
    shared Redis and are bumped atomically (a per-process or read-then-write count would not)."""
    from tests.conftest import worker_env

    name = f"cross-process-{uuid.uuid4().hex}"
    env = worker_env() | {
        "DJANGO_SETTINGS_MODULE": "arena.settings",
        "ARENA_LOGIN_LIMIT_PER_USERNAME": "5",
        "ARENA_LOGIN_LIMIT_PER_IP": "1000",
        "ARENA_LOGIN_LIMIT_WINDOW_S": "86400",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", COUNT_SCRIPT, name, f"198.51.100.{i}"],
            env=env,
            cwd=django_settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append([int(x) for x in out.split()])

    assert sum(counted for counted, _ in results) == 15
    assert sum(logins for _, logins in results) == 5  # one username, attempts from four IPs
    # And this process sees the same count.
    assert counter_hit(name=name, limit=15, window_s=86400) > 0
