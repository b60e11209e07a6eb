"""Concurrent transfers on PostgreSQL: 8 OS processes, each with its own connection, make 250
random transfers each over a shared pool of keys, racing and retrying the same keys.

Afterwards: the audit holds, each key was applied at most once and every caller of a key got the
same transfer, and each account holds exactly what the applied keys' operations add up to.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.models import Account, Transfer
from ledger.selectors import audit_ledger
from tests.ledger.concurrency_worker import ESCROWS, operation
from tests.ledger.conftest import race

WORKERS = 8
OPS = 250
POOL = 900
USERS = 10
FUNDING = 300

pytestmark = [pytest.mark.postgres]


def test_it_applies_each_key_once_under_concurrency(transactional_db, tmp_path):
    users = [get_user_model().objects.create_user(f"conc{i}") for i in range(USERS)]
    for user in users:
        # Withdrawable funding, so that gifts between users' withdrawable accounts can succeed.
        ledger.deposit_credit(user=user, amount=FUNDING, key=f"fund:{user.pk}")
    for ref in ESCROWS:
        ledger.escrow_account(ref)
    user_ids = [u.pk for u in users]
    rows = race(
        "tests.ledger.concurrency_worker",
        lambda i: [
            "--users",
            ",".join(map(str, user_ids)),
            "--ops",
            str(OPS),
            "--seed",
            str(i),
            "--pool",
            str(POOL),
        ],
        WORKERS,
        tmp_path,
        timeout=400,
    )
    assert len(rows) == WORKERS * OPS
    unexpected = [r for r in rows if r.get("error") not in (None, "InsufficientFunds")]
    assert unexpected == []
    assert sum(r["retry"] for r in rows) > WORKERS * OPS // 5

    # Every caller of a key got the same transfer, and the key has exactly that one.
    by_key: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if "transfer" in row:
            by_key[row["key"]].add(row["transfer"])
    # A hold or release of both kinds of credits is two transfers, "<key>" and "<key>~play";
    # its caller gets the first that exists.
    legs = dict(Transfer.objects.filter(key__startswith="k").values_list("key", "pk"))
    stored = {
        k.removesuffix("~play"): legs.get(k.removesuffix("~play"), pk) for k, pk in legs.items()
    }
    assert set(stored) == set(by_key)
    for key, ids in by_key.items():
        assert ids == {stored[key]}, key
    contended = [k for k in by_key if sum(r["key"] == k for r in rows) > 1]
    assert len(contended) > 100

    # Balances are exactly the funding plus the applied keys' operations, each counted once (a
    # user's play and withdrawable accounts together: which of them paid is tested elsewhere).
    expected = defaultdict(int)
    for user in users:
        expected[("user", user.pk)] += FUNDING
    for key in stored:
        op = operation(int(key[1:]), user_ids)
        a, b, esc = ("user", op["a"]), ("user", op["b"]), ("escrow", op["escrow"])
        amount = op["amount"]
        moves = {"transfer": (a, b), "hold": (a, esc), "release": (esc, a), "grant": (None, a)}
        src, dst = moves[op["kind"]]
        if src:
            expected[src] -= amount
        expected[dst] += amount
    held = defaultdict(int)
    for account in Account.objects.filter(kind__in=["user", "play", "escrow"]):
        assert account.balance >= 0
        ident = ("escrow", account.ref) if account.kind == "escrow" else ("user", account.owner_id)
        held[ident] += account.balance
    for ident, value in expected.items():
        assert held[ident] == value, ident

    report = audit_ledger()
    assert report["ok"], report["problems"]
