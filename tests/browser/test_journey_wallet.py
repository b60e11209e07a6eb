"""The wallet: a player with deposited and granted credits sees both kinds on the balance page,
is told plainly that play credits cannot be withdrawn, and withdraws withdrawable ones."""

import pytest

from ledger import services as ledger
from ledger.models import Withdrawal
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_it_shows_both_balances_and_withdraws_only_withdrawable_credits(page, alice):
    ledger.deposit_credit(user=alice, amount=300, key="journey-deposit", memo="ether deposit")
    ledger.grant(user=alice, amount=200, key="journey-grant", memo="welcome grant")
    _log_in(page, "alice", "alice-pass-123")
    assert page.locator("[data-testid=header-withdrawable]").inner_text() == "300"
    assert page.locator("[data-testid=header-play]").inner_text() == "200"

    page.click("nav >> text=Balance")
    assert page.locator("[data-testid=balance]").first.inner_text() == "500"
    assert page.locator("main [data-testid=withdrawable]").inner_text() == "300"
    assert page.locator("main [data-testid=play]").inner_text() == "200"
    history = page.locator("[data-testid=history]").inner_text().lower()
    assert "welcome grant" in history and "ether deposit" in history
    assert "play" in history and "withdrawable" in history  # which account each line hit
    snap(page, "wallet-balance")
    assert_accessible(page)

    page.click("nav >> text=Withdraw")
    assert page.locator("[data-testid=balance]").inner_text() == "300"
    page.fill("input[name=to_address]", "not-an-address")
    page.fill("input[name=credits]", "100")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert ledger.user_balance(alice) == 500
    assert not Withdrawal.objects.exists()

    # More than the withdrawable credits: refused, in words, and nothing moves.
    page.fill("input[name=to_address]", "0x" + "12" * 20)
    page.fill("input[name=credits]", "400")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "play credits cannot be withdrawn" in page.locator(".errorlist").inner_text()
    assert ledger.user_balance(alice) == 500 and not Withdrawal.objects.exists()
    snap(page, "wallet-withdraw-refused")
    assert_accessible(page)

    page.fill("input[name=to_address]", "0x" + "12" * 20)
    page.fill("input[name=credits]", "100")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".msg.success")
    have = ledger.user_balances(alice)
    assert (have.withdrawable, have.play) == (200, 200)
    assert Withdrawal.objects.get().credits == 100
    snap(page, "wallet-withdrawn")
    assert_accessible(page)
