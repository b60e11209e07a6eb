import pytest

from ledger import services as ledger
from ledger.models import Withdrawal

pytestmark = pytest.mark.browser


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_it_shows_the_balance_and_refuses_a_bad_withdrawal_without_moving_credits(page, alice):
    ledger.grant(user=alice, amount=500, key="journey-grant")
    _log_in(page, "alice", "alice-pass-123")

    page.click("nav >> text=Balance")
    assert page.locator("[data-testid=balance]").first.inner_text() == "500"
    assert "grant" in page.locator("[data-testid=history]").inner_text().lower()

    page.click("nav >> text=Withdraw")
    page.fill("input[name=to_address]", "not-an-address")
    page.fill("input[name=credits]", "100")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".errorlist")
    assert ledger.user_balance(alice) == 500
    assert not Withdrawal.objects.exists()

    page.fill("input[name=to_address]", "0x" + "12" * 20)
    page.fill("input[name=credits]", "100")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".msg.success")
    assert ledger.user_balance(alice) == 400
    assert Withdrawal.objects.get().credits == 100
