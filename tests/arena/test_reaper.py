"""Stuck matches: a step whose worker died is handed back and redone, or the match fails with
refunds; every path ends in exactly one final state."""

from datetime import timedelta

from django.utils import timezone

from agents.inference.scripted import use_script
from arena.models import Match
from arena.services.failures import max_attempts
from arena.services.matches import match_run_inline
from arena.services.reaper import reap_stuck_matches
from arena.services.steps import claim_step, complete_step
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match, sum_answer


def later(minutes=60):
    return timezone.now() + timedelta(minutes=minutes)


def test_it_redoes_a_rollout_whose_worker_died(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    dead_claim = claim_step(match_id=match.pk, step="rollout")  # the worker died here
    assert reap_stuck_matches() == []  # its lease still runs
    assert reap_stuck_matches(now=later()) == [(match.pk, "resumed rolling_out")]
    match.refresh_from_db()
    assert match.status == "formed" and match.lease_until is None
    with use_script(sum_answer):
        match = match_run_inline(match_id=match.pk)
    assert match.status == "settled"
    # The presumed-dead worker waking up cannot store anything over the redo.
    assert not complete_step(
        match_id=match.pk, status="rolling_out", claim=dead_claim, to_status="judging"
    )
    assert balance(alice) == 10_000 - 100 + 126
    audit_ok()


def test_it_fails_a_step_that_keeps_dying_and_refunds(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    for attempt in range(max_attempts()):
        assert claim_step(match_id=match.pk, step="rollout") is not None
        done = reap_stuck_matches(now=later(20 * (attempt + 1)))
    assert done == [(match.pk, "failed: attempts")]
    match.refresh_from_db()
    assert match.status == "failed"
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


def test_it_requeues_a_step_whose_message_was_lost_and_fails_past_the_deadline(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    assert reap_stuck_matches(now=later(5)) == [(match.pk, "requeued formed")]
    assert reap_stuck_matches(now=later(24 * 60)) == [(match.pk, "failed: deadline")]
    assert Match.objects.get(pk=match.pk).status == "failed"
    assert balance(alice) == 10_000
    audit_ok()
