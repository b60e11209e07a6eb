import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from arena.services.accounts import user_is_creator

pytestmark = pytest.mark.django_db


def test_it_registers_and_logs_in_a_new_player(client):
    response = client.post(
        reverse("register"),
        {
            "username": "dora",
            "email": "d@example.com",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="dora")
    assert client.get(reverse("home")).context["user"] == user
    assert not user_is_creator(user)


def test_it_refuses_a_mismatched_password_and_creates_nothing(client):
    response = client.post(
        reverse("register"),
        {"username": "dora", "password1": "a-long-pass-phrase-42", "password2": "other-pass-99"},
    )
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not User.objects.filter(username="dora").exists()


def test_it_logs_in_and_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == alice
    client.post(reverse("logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated


def test_it_gives_creators_their_role(carol, alice):
    assert user_is_creator(carol) and carol.is_staff
    assert not user_is_creator(alice)


def test_a_migrated_database_gives_creators_their_space_permissions(carol, alice):
    """Granted by the migrations (post_migrate), not by a fixture: a fresh install works."""
    for perm in ("spaces.add_space", "spaces.change_space", "spaces.view_space"):
        assert carol.has_perm(perm), perm
        assert not alice.has_perm(perm), perm


def test_the_sign_up_and_log_in_pages_offer_the_wallet(client):
    for name in ("register", "login"):
        page = client.get(reverse(name)).content.decode()
        assert 'id="siwe-login"' in page and "js/siwe" in page, name
