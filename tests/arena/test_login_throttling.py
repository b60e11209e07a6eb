"""Sign-in, registration and entry limits at the production defaults.

Password attempts (web form, admin, API token) are counted before the password is checked: per
(username, IP), per username across all IPs and per IP. Past a limit the answer is a 429 with
Retry-After and no password hash is computed (counted by a real hasher in PASSWORD_HASHERS). The
username counted is the one the backend receives (whitespace trimmed), case-folded. Registration
is limited per IP, entries per user (API and page share one budget).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from rest_framework.test import APIClient

from arena.models import Entry

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
ADMIN_LOGIN_URL = "/admin/login/"
TOKEN_URL = "/api/v1/auth/token/"
REGISTER_URL = "/accounts/register/"
PASSWORD = "dora-pass-123"


class CountingHasher(PBKDF2PasswordHasher):
    """PBKDF2 that counts its hashes: checking, setting and the dummy hash Django computes for
    an unknown username all go through ``encode``. One iteration keeps the tests fast."""

    iterations = 1
    calls = 0

    def encode(self, password, salt, iterations=None):
        CountingHasher.calls += 1
        return super().encode(password, salt, iterations)


@pytest.fixture
def hashes(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


@pytest.fixture
def dora(django_user_model, hashes):
    user = django_user_model.objects.create_user("dora", password=PASSWORD)
    hashes.calls = 0
    return user


def web_login(client, username, password, ip="192.0.2.1"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip)


def token_login(client, username, password, ip="192.0.2.1"):
    return client.post(TOKEN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_it_locks_a_username_from_one_ip_after_five_attempts_without_hashing(
    client, dora, hashes, production_rate_limits
):
    for _ in range(5):
        response = web_login(client, "dora", "wrong", ip="192.0.2.1")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    assert hashes.calls == 5

    locked = web_login(client, "dora", PASSWORD, ip="192.0.2.1")

    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60 - 1)
    assert "Too many sign-in attempts. Try again in 15 minutes." in locked.content.decode()
    assert not signed_in(client)
    assert hashes.calls == 5  # refused before the hasher ran
    assert web_login(client, "DORA", PASSWORD, ip="192.0.2.1").status_code == 429
    # The token endpoint and the admin's form share the lock, and hash nothing either.
    token = token_login(client, "dora", PASSWORD, ip="192.0.2.1")
    assert token.status_code == 429 and token["Retry-After"] == str(15 * 60 - 1)
    assert "Too many sign-in attempts" in token.json()["detail"]
    admin = client.post(
        ADMIN_LOGIN_URL, {"username": "dora", "password": PASSWORD}, REMOTE_ADDR="192.0.2.1"
    )
    assert "Too many sign-in attempts" in admin.content.decode()
    assert not signed_in(client) and hashes.calls == 5

    production_rate_limits.advance(15 * 60)
    assert web_login(client, "dora", PASSWORD, ip="192.0.2.1").status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize("login", [web_login, token_login], ids=["web", "token"])
def test_another_ip_still_signs_in_to_a_username_locked_from_one_ip(
    dora, hashes, production_rate_limits, login
):
    for _ in range(5):
        login(Client(), "dora", "wrong", ip="192.0.2.66")
    assert login(Client(), "dora", PASSWORD, ip="192.0.2.66").status_code == 429

    response = login(Client(), "dora", PASSWORD, ip="198.51.100.1")

    assert response.status_code in (200, 302)  # the token, or the redirect of a signed-in page
    assert hashes.calls == 6


def test_refused_attempts_from_one_ip_do_not_spend_the_usernames_budget(
    client, dora, hashes, production_rate_limits
):
    """One client flooding a username locks only itself: once its own (username, IP) budget is
    spent its attempts are refused before they reach the username's count across all IPs."""
    for _ in range(30):  # the per-IP limit
        web_login(Client(), "dora", "wrong", ip="192.0.2.66")
    assert hashes.calls == 5

    assert web_login(client, "dora", PASSWORD, ip="198.51.100.1").status_code == 302


@pytest.mark.parametrize("login", [web_login, token_login], ids=["web", "token"])
def test_fifty_attempts_from_many_ips_lock_the_username(
    dora, hashes, production_rate_limits, login
):
    """Distributed guessing (one or two guesses from each of many addresses, any spelling of the
    username) is stopped by the username's own budget across all IPs."""
    spellings = [" dora", "dora ", "  dora\t", "Dora", "DORA", "dora"]
    for i in range(50):
        response = login(Client(), spellings[i % len(spellings)], "wrong", ip=f"203.0.113.{i}")
        assert response.status_code in (200, 400)
    assert hashes.calls == 50

    locked = login(Client(), "dora", PASSWORD, ip="198.51.100.1")

    assert locked.status_code == 429 and locked["Retry-After"] == str(15 * 60 - 1)
    assert hashes.calls == 50


@pytest.mark.parametrize("login", [web_login, token_login], ids=["web", "token"])
@pytest.mark.parametrize(
    "spellings",
    [
        pytest.param([" dora", "dora ", "  dora\t", "\u3000dora", "dora\n"], id="whitespace"),
        pytest.param(["Dora", "DORA", "dOrA", "dora", " DORA "], id="case"),
    ],
)
def test_spellings_of_one_username_share_one_budget(
    dora, hashes, production_rate_limits, login, spellings
):
    for spelling in spellings:  # each reaches the backend (trimmed); none gets a count of its own
        response = login(Client(), spelling, "wrong", ip="192.0.2.5")
        assert response.status_code in (200, 400)
    assert hashes.calls == 5

    for spelling in ["dora", " dora ", "DORA"]:
        locked = login(Client(), spelling, PASSWORD, ip="192.0.2.5")
        assert locked.status_code == 429
    assert hashes.calls == 5  # the lock runs no hasher


def test_token_login_signs_in_with_a_padded_username(dora, production_rate_limits):
    # The backend receives the trimmed name, as the web form's does: the right password works.
    response = token_login(Client(), "  dora\t", PASSWORD)
    assert response.status_code == 200 and response.json()["token"]
    assert token_login(Client(), "Dora", PASSWORD).status_code == 400  # usernames keep their case


@pytest.mark.parametrize("username", [0, 1.5, True, None, ["dora"], {"u": "dora"}])
def test_token_login_refuses_a_username_that_is_not_a_string(
    dora, hashes, production_rate_limits, username
):
    api = APIClient()
    for _ in range(6):  # nothing counted, nothing hashed: a 400 each time, never a 429
        body = {"username": username, "password": "wrong"}
        response = api.post(TOKEN_URL, body, format="json", REMOTE_ADDR=f"192.0.2.{_}")
        assert response.status_code == 400
        assert "username" in response.json()
    assert hashes.calls == 0


def test_the_service_refuses_a_blank_username_without_hashing(rf, dora, hashes, settings):
    from arena.login_limit import LoginFailed, authenticate_limited

    with pytest.raises(LoginFailed):
        authenticate_limited(request=rf.post("/"), username=" \t", password=PASSWORD)
    with pytest.raises(LoginFailed):
        authenticate_limited(request=rf.post("/"), username="dora", password="")
    assert hashes.calls == 0
    assert authenticate_limited(request=rf.post("/"), username=" dora ", password=PASSWORD) == dora


def test_the_service_says_how_long_a_lock_lasts(rf, dora, hashes, production_rate_limits):
    from arena.login_limit import LoginFailed, LoginLocked, authenticate_limited

    for _ in range(5):
        with pytest.raises(LoginFailed):
            authenticate_limited(request=rf.post("/"), username="dora", password="wrong")
    with pytest.raises(LoginLocked) as locked:
        authenticate_limited(request=rf.post("/"), username="dora", password=PASSWORD)

    assert locked.value.retry_after == 15 * 60 - 1
    assert str(locked.value) == "Too many sign-in attempts. Try again in 15 minutes."
    assert hashes.calls == 5


def test_it_limits_attempts_per_ip_across_usernames(client, dora, hashes, production_rate_limits):
    for i in range(30):  # password spraying: one guess for each of many usernames
        assert web_login(client, f"user{i}", "guess", ip="192.0.2.7").status_code == 200
    assert hashes.calls == 30

    locked = web_login(client, "dora", PASSWORD, ip="192.0.2.7")

    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert hashes.calls == 30 and not signed_in(client)
    assert web_login(client, "dora", PASSWORD, ip="192.0.2.8").status_code == 302


def test_a_successful_sign_in_clears_the_usernames_count(dora, production_rate_limits):
    for _ in range(4):
        assert web_login(Client(), "dora", "wrong").status_code == 200
    assert web_login(Client(), "dora", PASSWORD).status_code == 302
    for _ in range(5):
        assert web_login(Client(), "dora", "wrong").status_code == 200


def test_token_login_counts_wrong_passwords_and_requests(
    client, dora, hashes, production_rate_limits
):
    for _ in range(5):
        assert token_login(client, "dora", "wrong").status_code == 400
    assert token_login(client, "dora", PASSWORD).status_code == 429
    assert hashes.calls == 5
    # Besides the password limit, 10 requests a minute per IP, whatever they carry.
    for _ in range(4):
        assert client.post(TOKEN_URL, {}, REMOTE_ADDR="192.0.2.1").status_code == 400
    refused = client.post(TOKEN_URL, {}, REMOTE_ADDR="192.0.2.1")
    assert refused.status_code == 429 and refused["Retry-After"] == "59"


def test_it_limits_registrations_per_ip(client, hashes, django_user_model, production_rate_limits):
    def register(name):
        body = {"username": name, "password1": "Not-so-common-42", "password2": "Not-so-common-42"}
        return Client().post(REGISTER_URL, body, REMOTE_ADDR="192.0.2.50")

    for i in range(10):
        assert register(f"newcomer{i}").status_code == 302
    refused = register("newcomer10")

    assert refused.status_code == 429 and refused["Retry-After"] == str(3600 - 1)
    assert "Too many requests" in refused.content.decode()
    assert not django_user_model.objects.filter(username="newcomer10").exists()
    assert client.get(REGISTER_URL, REMOTE_ADDR="192.0.2.50").status_code == 200  # the page


def test_it_limits_entries_per_user_across_api_and_page(client, alice, bob, production_rate_limits):
    api = APIClient()
    api.force_authenticate(alice)
    client.force_login(alice)
    for _ in range(30):
        assert api.post("/api/v1/entries/", {}, format="json").status_code == 400
        assert client.post("/spaces/nowhere/enter/").status_code == 404

    refused = api.post("/api/v1/entries/", {}, format="json")
    page = client.post("/spaces/nowhere/enter/")

    assert refused.status_code == 429 and refused["Retry-After"] == "59"
    assert page.status_code == 429 and page["Retry-After"] == "59"
    assert api.get("/api/v1/entries/").status_code == 200
    assert not Entry.objects.exists()
    other = APIClient()
    other.force_authenticate(bob)
    assert other.post("/api/v1/entries/", {}, format="json").status_code == 400
