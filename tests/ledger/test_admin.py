"""The admin shows the ledger and lets no one, not even a superuser, change it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger import services as ledger
from ledger.models import Account, Posting, Settlement, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(alice):
    ledger.subsidize(escrow_ref="match:1", amount=10, key="s")
    ledger.settle(escrow_ref="match:1", payouts=[(ledger.user_account(alice), 10)], key="st")
    return ledger.grant(user=alice, amount=100, key="g")


@pytest.mark.parametrize("model", [Account, Transfer, Posting, Settlement])
def test_it_lists_and_shows_ledger_rows_read_only(client, staff, made, model):
    client.force_login(staff)
    name = model._meta.model_name
    listing = client.get(reverse(f"admin:ledger_{name}_changelist"))
    assert listing.status_code == 200
    assert reverse(f"admin:ledger_{name}_add") not in listing.content.decode()
    obj = model.objects.first()
    page = client.get(reverse(f"admin:ledger_{name}_change", args=[obj.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


@pytest.mark.parametrize("model", [Account, Transfer, Posting, Settlement])
def test_it_refuses_add_change_and_delete_in_the_admin(client, staff, made, model):
    client.force_login(staff)
    name = model._meta.model_name
    obj = model.objects.first()
    assert client.get(reverse(f"admin:ledger_{name}_add")).status_code == 403
    assert client.post(reverse(f"admin:ledger_{name}_add"), {}).status_code == 403
    assert client.get(reverse(f"admin:ledger_{name}_delete", args=[obj.pk])).status_code == 403
    assert (
        client.post(
            reverse(f"admin:ledger_{name}_delete", args=[obj.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    response = client.post(
        reverse(f"admin:ledger_{name}_change", args=[obj.pk]), {"amount": "999", "balance": "999"}
    )
    assert response.status_code == 403
    # Bulk delete from the list is not offered either.
    response = client.post(
        reverse(f"admin:ledger_{name}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert model.objects.filter(pk=obj.pk).exists()
    assert ledger.user_balance(made.credit.owner) == 110


@pytest.mark.django_db
def test_it_shows_chain_records_read_only_to_staff(client, staff, alice):
    from ledger.models import Wallet

    Wallet.objects.create(user=alice, address="0x" + "ab" * 20)
    client.force_login(staff)
    for name in ("wallet", "chaindeposit", "withdrawal"):
        assert client.get(f"/admin/ledger/{name}/").status_code == 200
        assert client.get(f"/admin/ledger/{name}/add/").status_code == 403
