"""An entry fee and a withdrawal race for the same withdrawable credits, in two OS processes
(PostgreSQL). Each user has 50 play and 100 withdrawable credits; the hold wants 120 (50 play and
70 withdrawable), the withdrawal 100 withdrawable: exactly one of them may win per user, and
whichever wins, play credits never leave towards the withdrawal."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.selectors import audit_ledger
from tests.ledger.conftest import race

USERS = 12
PLAY, WITHDRAWABLE, AMOUNT = 50, 100, 120

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_hold_and_a_withdrawal_never_both_take_the_same_credits(tmp_path):
    users = [get_user_model().objects.create_user(f"hw{i}") for i in range(USERS)]
    for user in users:
        ledger.grant(user=user, amount=PLAY, key=f"g:{user.pk}")
        ledger.deposit_credit(user=user, amount=WITHDRAWABLE, key=f"d:{user.pk}")
    ids = ",".join(str(u.pk) for u in users)
    roles = ["hold", "withdraw"]
    rows = race(
        "tests.ledger.race_hold_withdraw_worker",
        lambda i: ["--role", roles[i], "--users", ids, "--amount", str(AMOUNT)],
        2,
        tmp_path,
        timeout=120,
    )
    assert len(rows) == 2 * USERS
    assert {r.get("error") for r in rows} <= {None, "InsufficientFunds"}
    for user in users:
        won = [r["role"] for r in rows if r["user"] == user.pk and "error" not in r]
        have = ledger.user_balances(user)
        assert len(won) == 1, (user, won)
        if won == ["hold"]:
            assert (have.withdrawable, have.play) == (WITHDRAWABLE - (AMOUNT - PLAY), 0)
        else:
            # The withdrawal took the withdrawable credits; play credits could not cover it.
            assert (have.withdrawable, have.play) == (0, PLAY)
    report = audit_ledger()
    assert report["ok"], report["problems"]
