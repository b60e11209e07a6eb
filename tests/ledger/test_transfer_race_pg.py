"""Several OS processes send the same transfer under the same idempotency key at the same moment,
and the debit account holds exactly enough for one: every caller must get the one transfer back
(the contract for a same-key, same-content call), none may be told InsufficientFunds.

The losers of such a race read the key before the winner committed, then wait on the winner's
row locks; unless they look at the key again once they hold the locks, they find the credits
gone and refuse a transfer that was made.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from ledger import services as ledger
from ledger.models import Transfer
from ledger.selectors import audit_ledger
from tests.conftest import wait_for_other_db_sessions_to_end, worker_env

RACERS = 4
ROUNDS = 12
AMOUNT = 100

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_it_gives_every_same_key_caller_the_winners_transfer(tmp_path):
    users = get_user_model().objects
    # One payer per round, each funded for exactly one transfer.
    payers = [users.create_user(f"payer{r}") for r in range(ROUNDS)]
    for payer in payers:
        ledger.grant(user=payer, amount=AMOUNT, key=f"fund:{payer.pk}")
    payee = ledger.user_account(users.create_user("payee"))
    debits = ",".join(str(ledger.user_account(p).pk) for p in payers)

    go = tmp_path / "go.flag"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ledger.race_same_key_worker",
                "--debits",
                debits,
                "--credit",
                str(payee.pk),
                "--amount",
                str(AMOUNT),
                "--out",
                str(tmp_path / f"out{i}.jsonl"),
                "--ready",
                str(tmp_path / f"ready{i}.flag"),
                "--go",
                str(go),
            ],
            env=worker_env(),
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(RACERS)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready{i}.flag").exists() for i in range(RACERS)):
            assert time.monotonic() < deadline, "racers did not start"
            assert all(p.poll() is None for p in procs), [p.stdout.read() for p in procs]
            time.sleep(0.05)
        go.touch()  # released together, so they really race on each key
        for proc in procs:
            output = proc.communicate(timeout=120)[0].decode()
            assert proc.returncode == 0, output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        wait_for_other_db_sessions_to_end()

    rows = [
        json.loads(line)
        for i in range(RACERS)
        for line in (tmp_path / f"out{i}.jsonl").read_text().splitlines()
    ]
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
