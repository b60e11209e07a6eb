"""Several OS processes send the same transfer under the same idempotency key at the same moment,
and the debit account holds exactly enough for one: every caller must get the one transfer back
(the contract for a same-key, same-content call), none may be told InsufficientFunds.

The losers of such a race read the key before the winner committed, then wait on the winner's
row locks; unless they look at the key again once they hold the locks, they find the credits
gone and refuse a transfer that was made.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.models import Transfer
from ledger.selectors import audit_ledger
from tests.ledger.conftest import race

RACERS = 4
ROUNDS = 12
AMOUNT = 100

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_it_gives_every_same_key_caller_the_winners_transfer(tmp_path):
    users = get_user_model().objects
    # One payer per round, each funded for exactly one transfer.
    payers = [users.create_user(f"payer{r}") for r in range(ROUNDS)]
    for payer in payers:
        # Withdrawable credits: the race moves them between withdrawable accounts.
        ledger.deposit_credit(user=payer, amount=AMOUNT, key=f"fund:{payer.pk}")
    payee = ledger.user_account(users.create_user("payee"))
    debits = ",".join(str(ledger.user_account(p).pk) for p in payers)

    rows = race(
        "tests.ledger.race_same_key_worker",
        lambda i: ["--debits", debits, "--credit", str(payee.pk), "--amount", str(AMOUNT)],
        RACERS,
        tmp_path,
        timeout=120,
    )
    assert len(rows) == RACERS * ROUNDS
    assert [r for r in rows if "error" in r] == []
    got: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        got[row["key"]].add(row["transfer"])
    stored = dict(Transfer.objects.filter(key__startswith="race:").values_list("key", "pk"))
    assert {key: {pk} for key, pk in stored.items()} == got
    assert ledger.balance(payee) == AMOUNT * ROUNDS
    assert all(ledger.user_balance(p) == 0 for p in payers)
    report = audit_ledger()
    assert report["ok"], report["problems"]
