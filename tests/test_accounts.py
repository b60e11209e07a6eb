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


# --- the newcomer: starter grant, balances in the header, the first-match guide -------------


def register(client, username="dora"):
    return client.post(
        reverse("register"),
        {
            "username": username,
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )


def test_a_new_player_gets_the_starter_grant_as_play_credits_in_the_header(client, settings):
    settings.ARENA_STARTER_GRANT = 1000
    register(client)
    html = client.get(reverse("home")).content.decode()
    assert '<span data-testid="header-play">1000</span> play' in html
    assert '<span data-testid="header-withdrawable">0</span> withdrawable' in html
    # A failed sign-up grants nothing.
    client.post(reverse("logout"))
    client.post(reverse("register"), {"username": "eve", "password1": "x", "password2": "y"})
    assert not User.objects.filter(username="eve").exists()


def test_anonymous_pages_show_no_balances(client):
    assert "header-balances" not in client.get(reverse("home")).content.decode()


def test_wallet_usernames_are_shortened_for_display(client):
    address = "0x" + "AbCd" * 10
    user = User.objects.create_user(username=address)
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()
    assert f'title="{address}">0xAbCd…AbCd</span>' in html


def guide_steps(client) -> list[bool] | None:
    context = client.get(reverse("home")).context
    guide = context["guide"]
    return None if guide is None else [step.done for step in guide]


def test_the_guide_marks_each_step_of_the_first_match_done(client, settings, carol):
    from agents.inference.scripted import use_script
    from agents.models import BaseModel
    from arena.models import Entry
    from arena.services import dispatch
    from arena.services.entries import entry_create
    from arena.services.matches import match_run_inline
    from tests.arena.conftest import make_agent, make_space
    from tests.arena.helpers import sum_answer

    settings.ARENA_INFERENCE_BACKEND = "scripted"
    space = make_space(carol, slug="guided")
    free = space.fee_tiers.get(fee=0)
    register(client)
    dora = User.objects.get(username="dora")
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="first-match-guide"' in html
    assert reverse("arena:space", args=["guided"]) in html and reverse("arena:agent-new") in html
    assert guide_steps(client) == [False, False, False, False]

    base = BaseModel.objects.create(name="guide-base", path="/nonexistent/g", is_default=False)
    agent = make_agent(dora, base)
    assert guide_steps(client) == [False, True, False, False]
    with dispatch.inline():
        entry, _ = entry_create(agent=agent, space=space, fee_tier=free, key="dora-1")
        assert guide_steps(client) == [True, True, True, False]
        rival = make_agent(carol, base)  # a second player, so that a match forms
        entry_create(agent=rival, space=space, fee_tier=free, key="carol-1")
        match_id = Entry.objects.get(pk=entry.pk).match_id
        assert match_id is not None
        assert (
            reverse("arena:match", args=[match_id]) in client.get(reverse("home")).content.decode()
        )
        with use_script(sum_answer):
            match_run_inline(match_id=match_id)
    assert guide_steps(client) is None  # the first match settled: the guide is done
