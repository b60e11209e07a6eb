"""The space lock that entries, the matchmaker and standings queue on (``lock_space``) must not
block a transaction that only points a new row at the space: PostgreSQL checks that foreign key
at COMMIT with FOR KEY SHARE on the space's row. With FOR UPDATE it did block, and a settlement
holding ledger accounts deadlocked against an entry holding the space (bench/load_api.py)."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, transaction

from spaces.models import Prompt
from spaces.selectors import lock_space
from tests.arena.conftest import make_space

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_other_connection(work) -> BaseException | None:
    """Run ``work`` in a transaction of another connection that gives up on any lock after 2 s;
    returns what it raised."""
    outcome: list[BaseException | None] = []

    def run():
        try:
            with transaction.atomic():
                connection.cursor().execute("SET LOCAL lock_timeout = '2s'")
                work()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return outcome[0]


def test_a_row_pointing_at_a_locked_space_commits_but_a_second_locker_waits(carol):
    space = make_space(carol)
    with transaction.atomic():
        lock_space(space.pk)
        # Another transaction adds a prompt to the space and commits: not held up by the lock.
        added = _in_other_connection(
            lambda: Prompt.objects.create(space_id=space.pk, text="What is 7 + 7?", split="train")
        )
        assert added is None
        # Another entry of the space still queues behind this one (here: gives up waiting).
        second = _in_other_connection(lambda: lock_space(space.pk))
        assert isinstance(second, OperationalError) and "lock timeout" in str(second)
    assert Prompt.objects.filter(space=space, text="What is 7 + 7?").exists()
