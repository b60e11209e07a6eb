"""History is append-only: no edit or delete of transfers and postings, in code or in the admin."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from ledger import services as ledger
from ledger.errors import ImmutableRecord
from ledger.models import Account, Posting, Settlement, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(alice):
    return ledger.grant(user=alice, amount=100, key="g")


def test_it_refuses_to_save_a_changed_transfer_or_posting(made):
    made.amount = 1_000_000
    with pytest.raises(ImmutableRecord, match="cannot be changed"):
        made.save()
    posting = made.postings.first()
    posting.amount = 5
    with pytest.raises(ImmutableRecord):
        posting.save()
    assert Transfer.objects.get().amount == 100
    assert sorted(Posting.objects.values_list("amount", flat=True)) == [-100, 100]


def test_it_refuses_to_delete_a_transfer_or_posting(made):
    with pytest.raises(ImmutableRecord, match="cannot be deleted"):
        made.delete()
    with pytest.raises(ImmutableRecord):
        made.postings.first().delete()
    assert (Transfer.objects.count(), Posting.objects.count()) == (1, 2)


@pytest.mark.parametrize(
    ("model", "field"), [(Transfer, "amount"), (Posting, "amount"), (Settlement, "total")]
)
def test_it_refuses_bulk_update_and_delete(made, model, field):
    ledger.subsidize(escrow_ref="match:1", amount=10, key="s")
    ledger.settle(
        escrow_ref="match:1", payouts=[(ledger.user_account(made.credit.owner), 10)], key="st"
    )
    before = sorted(model.objects.values_list("pk", field))
    with pytest.raises(ImmutableRecord):
        model.objects.all().update(**{field: 1})
    with pytest.raises(ImmutableRecord):
        model.objects.filter(pk__gt=0).delete()
    with pytest.raises(ImmutableRecord):
        model.objects.bulk_update(list(model.objects.all()), [field])
    with pytest.raises(ImmutableRecord):
        model.objects.first().delete()
    assert sorted(model.objects.values_list("pk", field)) == before


def test_it_protects_accounts_that_have_postings(made):
    with pytest.raises(IntegrityError):  # ProtectedError is an IntegrityError
        Account.objects.filter(pk=made.debit_id).delete()


def test_it_refuses_a_negative_user_balance_in_the_database(alice):
    """Even a write that skips the services cannot overdraw a user: a CHECK constraint."""
    account = ledger.user_account(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)
    grants = ledger.system_account("grants")
    Account.objects.filter(pk=grants.pk).update(balance=-1)  # a source may go negative


def test_it_refuses_non_positive_transfer_amounts_in_the_database(made):
    table = Transfer._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET amount = 0 WHERE id = %s", [made.pk])


def test_it_refuses_a_duplicate_key_in_the_database(made):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(
            key=made.key,
            debit_id=made.credit_id,
            credit_id=made.debit_id,
            amount=1,
            kind="x",
            fingerprint="f",
        )


def test_it_refuses_a_user_account_without_owner_and_a_second_one(alice):
    ledger.user_account(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind="user", owner=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind="user", owner=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind="escrow", ref="")
