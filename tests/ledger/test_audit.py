"""``ledger_audit``: exit 0 on a sound ledger, 1 with an explanation when anything is off."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from ledger import services as ledger
from ledger.models import Account, Posting, Transfer

pytestmark = pytest.mark.django_db


def run_audit(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("ledger_audit", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def busy_ledger(alice, bob, carol):
    ledger.grant(user=alice, amount=100, key="g:a")
    ledger.deposit_credit(user=bob, amount=100, key="d:b")
    ledger.hold(user=alice, escrow_ref="match:1", amount=40, key="h:a")
    ledger.hold(user=bob, escrow_ref="match:1", amount=40, key="h:b")
    ledger.settle(
        escrow_ref="match:1",
        key="s:1",
        payouts=[(ledger.user_account(alice), 70), (ledger.creator_revenue_account(carol), 10)],
    )
    ledger.withdraw_debit(user=bob, amount=10, key="w:d")
    ledger.withdraw_finalize(amount=10, key="w:f")


def test_it_passes_a_clean_ledger(busy_ledger):
    code, out = run_audit("--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    assert report["problems"] == [] and report["sum_of_balances"] == 0
    # 9: alice's payout is split, 35 withdrawable and 35 play (the pot was half play).
    assert report["transfers"] == Transfer.objects.count() == 9
    assert report["postings"] == 18


def test_it_prints_a_human_summary(busy_ledger):
    code, out = run_audit()
    assert code == 0 and "ledger OK" in out


def test_it_passes_an_empty_ledger():
    code, out = run_audit("--json")
    assert code == 0 and json.loads(out)["accounts"] == 0


def tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_fails_when_a_stored_balance_was_tampered_with(busy_ledger, alice):
    account = ledger.user_account(alice)
    tamper(f"UPDATE {Account._meta.db_table} SET balance = balance + 5 WHERE id = %s", [account.pk])
    code, out = run_audit("--json")
    report = json.loads(out)  # still one JSON document, nothing else
    assert code == 1 and report["ok"] is False
    checks = {p["check"] for p in report["problems"]}
    assert checks == {"stored_equals_recomputed", "balances_sum_zero"}
    problem = next(p for p in report["problems"] if p["check"] == "stored_equals_recomputed")
    assert problem["account"] == account.pk
    assert (problem["stored"], problem["recomputed"]) == (40, 35)
    assert "alice" in problem["message"]


def test_it_fails_when_a_posting_was_tampered_with(busy_ledger):
    posting = Posting.objects.filter(amount__gt=0).first()
    tamper(f"UPDATE {Posting._meta.db_table} SET amount = amount + 1 WHERE id = %s", [posting.pk])
    code, out = run_audit("--json")
    checks = {p["check"] for p in json.loads(out)["problems"]}
    assert code == 1
    assert {"stored_equals_recomputed", "postings_sum_zero", "transfer_postings_balanced"} <= checks


def test_it_fails_when_a_posting_vanished(busy_ledger):
    posting = Posting.objects.first()
    tamper(f"DELETE FROM {Posting._meta.db_table} WHERE id = %s", [posting.pk])
    code, out = run_audit()
    assert code == 1 and "transfer_postings_balanced" in out and "problem(s) found" in out


def test_it_fails_on_a_negative_user_balance_written_behind_its_back(busy_ledger, bob):
    """The CHECK constraint stops this on a sound schema; the audit still says so if it happens."""
    account = ledger.user_account(bob)
    # Move a whole posting to make bob's recomputed balance negative while stored stays >= 0.
    grant = Transfer.objects.get(key="d:b")
    tamper(
        f"UPDATE {Posting._meta.db_table} SET amount = -amount WHERE transfer_id = %s", [grant.pk]
    )
    code, out = run_audit("--json")
    problems = json.loads(out)["problems"]
    assert code == 1
    assert any(p["check"] == "no_negative_balance" and p["account"] == account.pk for p in problems)
