"""Matches of a space whose answers are code, judged by tests in the sandbox.

Text that answer code produced (a failing test's exception message) is shown only to the match's
participants, its space's creator and staff: never to others, in the API or the pages. Where no
sandbox can be made, the code is not run and the match is refunded."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from agents.inference.scripted import use_script
from arena import tasks
from judges.sandbox import bwrap
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match, make_code_space
from tests.conftest import SERVICE_SKIP

LEAK = "leaked-by-answer-7c1d"

pytestmark = pytest.mark.skipif(
    bwrap.bwrap_path() is None, reason=f"{SERVICE_SKIP} bubblewrap (apt-get install bubblewrap)"
)


@pytest.fixture
def code_space(carol):
    return make_code_space(
        carol, slug="py-leak", tests=["assert add(1, 2) == 3"], rake_bps=0, fee=10
    )


@pytest.fixture
def judged(players, code_space, agent_factory):
    alice, bob, _ = players
    match = form_match(
        code_space, code_space.fee_tiers.get(name="standard"), [alice, bob], agent_factory
    )

    def code(request, index):
        if index == 0:
            return "```python\ndef add(a, b):\n    return a + b\n```"
        # Made at run time, so only the exception's message holds it, not the answer's text
        # (answers themselves are public).
        head, tail = LEAK[:6], LEAK[6:]
        return f"```python\ndef add(a, b):\n    raise ValueError({head!r} + {tail!r})\n```"

    with use_script(code):
        assert tasks.rollout_match(match.pk) and tasks.judge_match(match.pk)
    return match


def api_text(user, match) -> str:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    response = client.get(f"/api/v1/matches/{match.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def page_text(client, user, match) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get(f"/matches/{match.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_keeps_answer_output_from_outsiders(judged, mallory, client):
    assert LEAK not in api_text(None, judged)
    assert LEAK not in api_text(mallory, judged)
    assert LEAK not in page_text(client, mallory, judged)
    # ...who still see that the test failed and why in outline.
    assert '"reason": "ValueError"' in api_text(mallory, judged).replace('":"', '": "')


@pytest.mark.parametrize("who", ["bob", "alice", "carol", "staff"])
def test_it_shows_answer_output_to_those_with_a_stake(judged, who, request, client):
    user = request.getfixturevalue(who)
    assert LEAK in api_text(user, judged)
    assert LEAK in page_text(client, user, judged)


def test_a_nul_in_the_answers_output_does_not_void_the_match(players, code_space, agent_factory):
    """PostgreSQL's jsonb refuses NUL characters: a losing answer that raised one used to make
    the verdict unstorable, so the match failed and was refunded."""
    alice, bob, _ = players
    match = form_match(
        code_space, code_space.fee_tiers.get(name="standard"), [alice, bob], agent_factory
    )

    def code(request, index):
        if index == 0:
            return "```python\ndef add(a, b):\n    return a + b\n```"
        return "```python\ndef add(a, b):\n    raise ValueError('a' + chr(0) + 'b')\n```"

    with use_script(code):
        assert tasks.rollout_match(match.pk) and tasks.judge_match(match.pk)
        assert tasks.settle_match(match.pk)
    match.refresh_from_db()
    assert match.status == "settled", match.failure_reason
    assert dict(match.seats.values_list("owner__username", "rank")) == {"alice": 1, "bob": 2}
    audit_ok()


def test_it_refunds_the_match_when_no_sandbox_can_be_made(players, code_space, agent_factory):
    from django.test import override_settings

    alice, bob, _ = players
    before = balance(alice), balance(bob)
    match = form_match(
        code_space, code_space.fee_tiers.get(name="standard"), [alice, bob], agent_factory
    )
    marker = "/tmp/arena-code-ran-without-sandbox"
    answer = f"```python\nopen({marker!r}, 'w').close()\ndef add(a, b):\n    return a + b\n```"
    bwrap.forget()
    try:
        with (
            override_settings(ARENA_SANDBOX_BWRAP="/nonexistent/bwrap"),
            use_script(lambda request, index: answer),
        ):
            assert tasks.rollout_match(match.pk) and tasks.judge_match(match.pk)
    finally:
        bwrap.forget()
    match.refresh_from_db()
    assert match.status == "failed"
    assert "bubblewrap" in match.failure_reason
    assert (balance(alice), balance(bob)) == before
    assert not os.path.exists(marker)
    audit_ok()
