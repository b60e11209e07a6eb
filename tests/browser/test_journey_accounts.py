import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.browser


def test_it_signs_up_logs_out_and_logs_back_in(page):
    page.goto("/accounts/register/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password1]", "a-long-pass-phrase-42")
    page.fill("input[name=password2]", "a-long-pass-phrase-42")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/")
    assert page.locator("[data-testid=username]").inner_text() == "erin"
    assert User.objects.filter(username="erin").exists()

    page.click("text=Log out")
    page.wait_for_selector("text=Log in")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "a-long-pass-phrase-42")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")
    assert page.locator("[data-testid=username]").inner_text() == "erin"
