"""Wei amounts survive the database exactly, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from ledger.models import ChainDeposit, Withdrawal

pytestmark = pytest.mark.django_db

HUGE_WEI = 2**256 - 1  # 78 digits: SQLite's own integers would turn this into a float


def test_it_keeps_every_digit_of_a_huge_wei_amount(alice):
    ChainDeposit.objects.create(
        tx_hash="0x" + "01" * 32,
        user=alice,
        from_address="0x" + "11" * 20,
        wei=HUGE_WEI,
        credits=1,
        block_number=1,
    )
    Withdrawal.objects.create(
        user=alice, to_address="0x" + "22" * 20, credits=1, wei=10**18 + 1, idempotency_key="k"
    )

    assert ChainDeposit.objects.get().wei == HUGE_WEI
    assert Withdrawal.objects.get().wei == 10**18 + 1
    assert ChainDeposit.objects.filter(wei=HUGE_WEI).exists()


def test_it_refuses_wei_outside_uint256(alice):
    with pytest.raises(ValidationError, match="uint256"), transaction.atomic():
        Withdrawal.objects.create(
            user=alice, to_address="0x" + "22" * 20, credits=1, wei=2**256, idempotency_key="k"
        )
    assert not Withdrawal.objects.exists()
