"""The failure policy of a match step (arena.services.failures): a transient error is retried
with back-off a bounded number of times and then refunded; a permanent error refunds at once."""

from __future__ import annotations

import pytest
from celery import current_app
from django.db import OperationalError

from agents.inference.base import InferenceUnavailable
from agents.inference.scripted import use_script
from arena import tasks
from arena.models import Match
from arena.services import dispatch
from arena.services.failures import is_transient, step_failed
from arena.services.steps import claim_step
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match, sum_answer


@pytest.fixture
def match(players, space, tier, agent_factory):
    alice, bob, _ = players
    return form_match(space, tier, [alice, bob], agent_factory)


@pytest.fixture
def sent(monkeypatch, settings, django_capture_on_commit_callbacks):
    """Steps go to the broker again (not inline), and what would be sent is recorded instead of
    published: (task name, args, countdown). The broker is outside the project."""
    settings.ARENA_STEP_MAX_ATTEMPTS = 3
    settings.ARENA_STEP_RETRY_BASE_S = 5
    record: list[tuple[str, list, float | None]] = []
    for name in set(dispatch.STEP_TASKS.values()):
        task = current_app.tasks[name]

        def apply_async(args=None, countdown=None, _name=name, **_):
            record.append((_name, args, countdown))

        monkeypatch.setattr(task, "apply_async", apply_async)
    with dispatch.inline(False):
        yield record


def failing(exc):
    def script(request, index):
        raise exc

    return script


def run(django_capture_on_commit_callbacks, step, match_id):
    with django_capture_on_commit_callbacks(execute=True):
        return step(match_id)


def test_a_timeout_of_the_inference_server_is_retried_with_back_off_then_refunded(
    players, match, sent, django_capture_on_commit_callbacks
):
    alice, bob, _ = players
    with use_script(failing(InferenceUnavailable("timed out after 30 s"))):
        for attempt, countdown in ((1, 5.0), (2, 10.0)):
            assert run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
            match.refresh_from_db()
            assert (match.status, match.attempts, match.lease_until) == ("formed", attempt, None)
            assert sent[-1] == ("arena.rollout_match", [match.pk], countdown)
            assert balance(alice) == 10_000 - 100  # the fee stays in escrow while it retries
        assert run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
    match.refresh_from_db()
    assert match.status == "failed"
    assert "rollout failed: timed out after 30 s" in match.failure_reason
    assert "gave up after 3 attempts" in match.failure_reason
    assert len(sent) == 2  # no retry is queued after the last attempt
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


def test_a_retried_rollout_that_then_succeeds_settles_normally(
    players, match, sent, django_capture_on_commit_callbacks
):
    alice, _, _ = players
    with use_script(failing(MemoryError())):
        run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
    match.refresh_from_db()
    assert match.status == "formed"
    with use_script(sum_answer):
        assert run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
        assert run(django_capture_on_commit_callbacks, tasks.judge_match, match.pk)
        assert run(django_capture_on_commit_callbacks, tasks.settle_match, match.pk)
    match.refresh_from_db()
    assert match.status == "settled" and match.attempts == 0
    assert balance(alice) == 10_000 - 100 + 126
    audit_ok()


def test_a_permanent_error_fails_the_match_at_once(
    players, match, sent, django_capture_on_commit_callbacks
):
    alice, bob, _ = players
    with use_script(failing(ValueError("the prompt template is broken"))):
        assert run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
    match.refresh_from_db()
    assert match.status == "failed" and match.attempts == 1
    assert match.failure_reason == "rollout failed: the prompt template is broken"
    assert sent == []
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


def test_a_judge_config_error_fails_judging_at_once(
    players, match, sent, django_capture_on_commit_callbacks
):
    alice, _, _ = players
    with use_script(sum_answer):
        run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
    # Staff edited the stored panel behind the validation: the judge refuses it.
    type(match.space).objects.filter(pk=match.space_id).update(
        judge_panel=[{"kind": "no-such-judge"}]
    )
    sent.clear()
    assert run(django_capture_on_commit_callbacks, tasks.judge_match, match.pk)
    match.refresh_from_db()
    assert match.status == "failed" and match.failure_reason.startswith("judging failed:")
    assert sent == []
    assert balance(alice) == 10_000
    audit_ok()


def test_a_lost_database_connection_while_judging_hands_the_step_back(
    players, match, sent, django_capture_on_commit_callbacks
):
    with use_script(sum_answer):
        run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
    claim = claim_step(match_id=match.pk, step="judge")
    sent.clear()
    lost = OperationalError("server closed the connection unexpectedly")
    with django_capture_on_commit_callbacks(execute=True):
        assert step_failed(match_id=match.pk, step="judge", exc=lost, claim=claim) == "retry"
    match.refresh_from_db()
    assert (match.status, match.lease_until, match.attempts) == ("judging", None, 1)
    assert sent == [("arena.judge_match", [match.pk], 5.0)]
    # A worker whose claim is stale hands back nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert step_failed(match_id=match.pk, step="judge", exc=lost, claim=claim) == "lost"
    assert len(sent) == 1


def test_a_settlement_that_lost_its_connection_is_retried_then_refunded(
    players, match, sent, django_capture_on_commit_callbacks
):
    alice, bob, _ = players
    with use_script(sum_answer):
        run(django_capture_on_commit_callbacks, tasks.rollout_match, match.pk)
        run(django_capture_on_commit_callbacks, tasks.judge_match, match.pk)
    sent.clear()
    lost = OperationalError("could not connect to server")
    for attempt in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            assert step_failed(match_id=match.pk, step="settle", exc=lost) == "retry"
        assert Match.objects.get(pk=match.pk).status == "settling"
        assert sent[-1] == ("arena.settle_match", [match.pk], 5.0 * 2 ** (attempt - 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert step_failed(match_id=match.pk, step="settle", exc=lost) == "failed"
    match.refresh_from_db()
    assert match.status == "failed" and "settlement failed" in match.failure_reason
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (OperationalError("connection lost"), True),
        (MemoryError(), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (InferenceUnavailable("503 after retries"), True),
        (type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory"), True),
        (ValueError("bad input"), False),
        (RuntimeError("backend returned 1 answers for 2 seats"), False),
        (KeyError("rank"), False),
    ],
)
def test_it_tells_transient_errors_from_permanent_ones(exc, transient):
    assert is_transient(exc) is transient
