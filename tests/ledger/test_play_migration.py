"""The migration that splits existing balances (ledger/migrations/0004): of each user's balance,
as much as the user was ever granted becomes play credits; the rest stays withdrawable; the
audit's play checks start after it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ledger.models import Account, PlaySplit, Transfer
from ledger.selectors import audit_ledger

BEFORE = [("ledger", "0002_record_chain")]
AFTER = [("ledger", "0004_reclassify_granted_credits")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes("ledger")


def legacy_transfer(apps, debit, credit, amount, key, kind):
    """A transfer as the old code wrote it (no play part), with its postings and balances."""
    transfer = apps.get_model("ledger", "Transfer").objects.create(
        key=key, debit=debit, credit=credit, amount=amount, kind=kind, fingerprint="legacy"
    )
    posting = apps.get_model("ledger", "Posting").objects
    posting.create(transfer=transfer, account=debit, amount=-amount)
    posting.create(transfer=transfer, account=credit, amount=amount)
    for account, delta in ((debit, -amount), (credit, amount)):
        account.balance += delta
        account.save()


@pytest.mark.django_db(transaction=True)
def test_it_reclassifies_granted_credits_as_play_and_keeps_the_rest_withdrawable(alice, bob, carol):
    old = migrate(BEFORE)
    accounts = old.get_model("ledger", "Account").objects
    grants = accounts.create(kind="grants")
    deposits = accounts.create(kind="chain_deposits")
    escrow = accounts.create(kind="escrow", ref="match:1")
    a = accounts.create(kind="user", owner_id=alice.pk)
    b = accounts.create(kind="user", owner_id=bob.pk)
    c = accounts.create(kind="user", owner_id=carol.pk)
    legacy_transfer(old, grants, a, 100, "g:a", "grant")  # alice: granted 100, deposited 50
    legacy_transfer(old, deposits, a, 50, "d:a", "deposit")
    legacy_transfer(old, grants, b, 100, "g:b", "grant")  # bob: granted 100, spent 70
    legacy_transfer(old, b, escrow, 70, "h:b", "hold")
    legacy_transfer(old, deposits, c, 80, "d:c", "deposit")  # carol: deposits only

    migrate(AFTER)
    migrate(latest())  # the models below are today's (later migrations add columns)

    def parts(user):
        found = dict(Account.objects.filter(owner=user).values_list("kind", "balance"))
        return found.get("user", 0), found.get("play", 0)

    assert parts(alice) == (50, 100)
    assert parts(bob) == (0, 30)  # what is left of a grant stays play
    assert parts(carol) == (80, 0)
    assert set(Transfer.objects.filter(kind="reclassify").values_list("key", flat=True)) == {
        f"migration:play-split:{alice.pk}",
        f"migration:play-split:{bob.pk}",
    }
    split = PlaySplit.objects.get()
    assert split.reclassified == 130
    assert split.first_transfer_id == Transfer.objects.order_by("-pk").first().pk + 1
    report = audit_ledger()
    assert report["ok"], report["problems"]
