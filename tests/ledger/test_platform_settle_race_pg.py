"""Two settlements that both pay platform revenue, in two OS processes (PostgreSQL): neither
waits on the other's lock. One settles and keeps its transaction open; the other settles and
commits meanwhile. Platform revenue is spread over shard rows (issue #11); the two settlements'
keys hash to the same shard, and the second takes the next free one instead of waiting."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.models import AccountKind, Transfer
from ledger.selectors import audit_ledger
from tests.ledger.conftest import race

FEE, RAKE = 100, 7

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def keys_on_the_same_shard() -> tuple[str, str]:
    """Two settlement keys whose platform leg (payout 0) prefers the same shard."""
    first = "match:1:settle"
    for n in range(2, 1000):
        second = f"match:{n}:settle"
        if ledger.shard_of(f"{first}#0") == ledger.shard_of(f"{second}#0"):
            return first, second
    raise AssertionError("no two keys on the same shard")


def test_two_settlements_paying_the_platform_do_not_wait_on_each_other(tmp_path):
    users = [get_user_model().objects.create_user(f"plat{i}") for i in range(2)]
    keys = keys_on_the_same_shard()
    escrows = ["match:a", "match:b"]
    for user, escrow in zip(users, escrows, strict=True):
        ledger.deposit_credit(user=user, amount=FEE, key=f"fund:{user.pk}")
        ledger.hold(user=user, escrow_ref=escrow, amount=FEE, key=f"fee:{user.pk}")
    payees = [ledger.user_account(user).pk for user in users]
    # The shard rows exist, as they do after the platform's first settlements; a row made in the
    # holder's open transaction would keep the other's insert of the same row waiting.
    ledger.system_shards(AccountKind.PLATFORM_REVENUE)
    roles = ["holder", "settler"]
    rows = race(
        "tests.ledger.race_platform_settle_worker",
        lambda i: [
            "--role",
            roles[i],
            "--escrow",
            escrows[i],
            "--payee",
            str(payees[i]),
            "--rake",
            str(RAKE),
            "--key",
            keys[i],
            "--flags",
            str(tmp_path),
        ],
        2,
        tmp_path,
        timeout=120,
    )
    assert [r for r in rows if "error" in r] == []
    holder = next(r for r in rows if r["role"] == "holder")
    settler = next(r for r in rows if r["role"] == "settler")
    # The settler committed while the holder's transaction (and its platform shard) was open.
    assert holder["saw_other_finish"] is True
    assert settler["seconds"] < 10
    platform_rows = {Transfer.objects.get(key=f"{key}#0").credit_id for key in keys}
    assert len(platform_rows) == 2
    platform = ledger.system_account(AccountKind.PLATFORM_REVENUE)
    assert ledger.balance(platform) == 2 * RAKE
    assert [ledger.user_balance(u) for u in users] == [FEE - RAKE, FEE - RAKE]
    report = audit_ledger()
    assert report["ok"], report["problems"]
