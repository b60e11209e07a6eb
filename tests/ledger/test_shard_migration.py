"""The migration that spreads hot system accounts over shards (ledger/migrations/0005): each
existing system row becomes its account's shard 0, keeping its id, balance and history, so
retries of transfers made before it still match their fingerprints."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ledger import services as ledger
from ledger.selectors import audit_ledger
from tests.ledger.test_play_migration import legacy_transfer

BEFORE = [("ledger", "0004_reclassify_granted_credits")]
AFTER = [("ledger", "0005_system_account_shards")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("ledger")


@pytest.mark.django_db(transaction=True)
def test_existing_system_rows_become_shard_0_and_old_keys_still_replay(alice):
    old = migrate(BEFORE)
    accounts = old.get_model("ledger", "Account").objects
    deposits = accounts.create(kind="chain_deposits")
    wallet = accounts.create(kind="user", owner_id=alice.pk)
    legacy_transfer(old, deposits, wallet, 300, "d:a", "deposit")
    # The fingerprint the services wrote before shards existed (the accounts' ids).
    fingerprint = ledger._fingerprint(
        debit_id=deposits.pk, credit_id=wallet.pk, amount=300, kind="deposit"
    )
    old.get_model("ledger", "Transfer").objects.filter(key="d:a").update(fingerprint=fingerprint)

    migrate(AFTER)
    migrate(latest())

    head = ledger.system_account("chain_deposits")
    assert (head.pk, head.shard, head.balance) == (deposits.pk, 0, -300)
    again = ledger.deposit_credit(user=alice, amount=300, key="d:a")  # a retry: nothing moves
    assert again.key == "d:a" and ledger.user_balance(alice) == 300
    for n in range(20):  # new deposits spread over the shards; the account's total is their sum
        ledger.deposit_credit(user=alice, amount=10, key=f"d:more:{n}")
    assert len(ledger.system_shards("chain_deposits")) == ledger.shard_count()
    assert ledger.balance(head) == -500 and ledger.user_balance(alice) == 500
    report = audit_ledger()
    assert report["ok"], report["problems"]
