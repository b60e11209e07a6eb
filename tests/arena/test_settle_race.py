"""Two settle tasks racing on one match (two threads, two database connections): the pot is
paid once."""

import threading

import pytest
from django.db import connection

from agents.inference.scripted import use_script
from arena import tasks
from arena.models import Match
from ledger.models import Transfer
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match, sum_answer


@pytest.mark.django_db(transaction=True)
def test_it_settles_once_when_two_settle_tasks_race(players, space, tier, agent_factory):
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    with use_script(sum_answer):
        tasks.rollout_match(match.pk)
        tasks.judge_match(match.pk)
    assert Match.objects.get(pk=match.pk).status == "settling"

    barrier = threading.Barrier(4)
    results, errors = [], []

    def settle():
        try:
            barrier.wait(timeout=30)
            results.append(tasks.settle_match(match.pk))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sorted(results) == [False, False, False, True]
    match.refresh_from_db()
    assert match.status == "settled"
    assert balance(alice) == 10_000 - 100 + 126 and balance(bob) == 10_000 - 100 + 54
    assert Transfer.objects.filter(key__startswith=f"match:{match.pk}:settle#").count() == 4
    audit_ok()
