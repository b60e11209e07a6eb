"""The match loop through real Celery worker processes (scripted backend): a whole match, and
a worker SIGKILLed in the middle of a settlement."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from arena import tasks
from arena.models import Match
from arena.services.reaper import reap_stuck_matches
from ledger.models import Transfer
from tests.arena.helpers import audit_ok, form_match
from tests.arena.workers import start_worker, wait_final, wait_for, wait_status


def test_it_runs_a_match_through_a_real_worker(
    worker_pool, tmp_path, players, space, tier, agent_factory
):
    worker_pool.append(start_worker(tmp_path))
    alice, bob, _ = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    match = wait_final(match.pk, timeout=120)
    assert match.status == "settled", (match.failure_reason, worker_pool[0].log())
    seats = list(match.seats.all())
    assert all(s.text and s.rank for s in seats)
    assert sum(s.payout for s in seats) + match.creator_rake + match.platform_rake == match.pot
    assert match.pot == 200
    audit_ok()


@contextlib.contextmanager
def hold_settlement_midway(payee):
    """Make a settle task block inside its transaction, from another connection (not Django's).

    PostgreSQL: lock the payee's ledger account rows. The task has already marked the match
    settled (uncommitted) when it blocks on that row, so a kill lands mid-settlement. SQLite has
    no row locks: hold the whole database, and the task blocks on its first write.

    Yields a predicate that is true once the task is blocked.
    """
    from ledger.services import play_account, user_account

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        lock = sqlite3.connect(str(db["NAME"]), timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield lambda: True  # no way to see the waiter; the caller also waits for its log
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    import psycopg

    # Both of the payee's accounts: a prize lands in the play one, the withdrawable one, or both.
    accounts = [user_account(payee).pk, play_account(payee).pk]
    lock = psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )
    lock.execute("SELECT 1 FROM ledger_account WHERE id = ANY(%s) FOR UPDATE", [accounts])

    def task_blocked() -> bool:
        # pg_stat_activity is read once per transaction, and this connection's transaction holds
        # the lock: drop the snapshot so each call sees the server as it is now.
        lock.execute("SELECT pg_stat_clear_snapshot()")
        row = lock.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query ILIKE %s",
            ["%ledger_account%"],
        ).fetchone()
        return row[0] > 0

    try:
        yield task_blocked
    finally:
        lock.rollback()
        lock.close()


def test_it_settles_exactly_once_after_a_worker_is_killed_mid_settlement(
    worker_pool, tmp_path, players, space, tier, agent_factory
):
    alice, bob, _ = players
    # A worker without the default queue takes the match as far as settling.
    early = start_worker(tmp_path, queues="rollout,judge")
    worker_pool.append(early)
    match = form_match(space, tier, [alice, bob], agent_factory)
    wait_status(match.pk, "settling", timeout=120)
    early.stop()

    with hold_settlement_midway(alice) as task_blocked:
        settler = start_worker(tmp_path, queues="default")
        worker_pool.append(settler)
        wait_for(lambda: "arena.settle_match" in settler.log(), 60, "the settle task to start")
        try:
            wait_for(task_blocked, 120, "the settle task to block inside its transaction")
        except AssertionError as exc:  # say what the worker did instead
            raise AssertionError(f"{exc}\n--- settler log ---\n{settler.log()[-3000:]}") from None
        time.sleep(0.5)
        settler.kill()
    # The killed transaction left nothing: still settling, nothing paid.
    match.refresh_from_db()
    assert match.status == "settling"
    assert not Transfer.objects.filter(key__startswith=f"match:{match.pk}:settle").exists()
    audit_ok()

    # The reaper finds the quiet match and queues its settlement again; a new worker runs it.
    done = reap_stuck_matches(now=timezone.now() + timedelta(minutes=5))
    assert (match.pk, "requeued settling") in done
    worker_pool.append(start_worker(tmp_path, queues="default"))
    match = wait_final(match.pk, timeout=120)
    assert match.status == "settled", match.failure_reason
    # The killed task's message comes back after the broker's visibility timeout (acks_late):
    # deliver it now, as the worker would, and it must find nothing to do.
    assert tasks.settle_match(match.pk) is False
    assert Match.objects.get(pk=match.pk).status == "settled"
    assert Transfer.objects.filter(key__startswith=f"match:{match.pk}:settle#").count() == 4
    audit_ok()


def test_it_plays_through_the_worker_when_one_runs(
    worker_pool, tmp_path, players, space, agent_factory
):
    import io
    import json

    from django.core.management import call_command

    alice, bob, _ = players
    agent_factory(alice), agent_factory(bob)
    worker_pool.append(start_worker(tmp_path))
    out = io.StringIO()
    call_command(
        "play", "--space", space.slug, "--matches", "1", "--json", "--tier", "standard", stdout=out
    )
    report = json.loads(out.getvalue())
    assert report["mode"] == "worker"
    assert report["matches"][0]["status"] == "settled"
    assert "arena.rollout_match" in worker_pool[0].log()
    audit_ok()
