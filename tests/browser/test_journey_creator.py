"""A creator builds a space in the studio (the admin's space editor): real fields, a judge row,
the payout preview, "try it" on the panel being edited, a prompt bank refused for one row then
taken, and the space page with the judge-bias report.

The Django admin's own chrome is what it is: ``assert_accessible`` runs on the pages this
project renders itself (the space page); the studio pages get ``snap`` (390 px, no sideways
scroll)."""

from __future__ import annotations

import pytest

from spaces.models import Space
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_a_creator_builds_tries_fills_and_opens_a_space(page, carol, tmp_path):
    _log_in(page, "carol", "carol-pass-123")
    page.goto("/admin/spaces/space/add/")
    page.fill("input[name=slug]", "sums")
    page.fill("input[name=title]", "Sums")
    page.select_option("select[name=task_kind]", "verifiable")
    page.select_option("select[name=answer_format]", "number")
    page.fill("input[name=max_new_tokens_cap]", "32")
    page.select_option("select[name='judge_panel-0-kind']", "verifier")
    # Only the chosen kind's options show; the verifier's mode is one of them.
    assert page.locator("fieldset[data-kind=verifier]").first.is_visible()
    assert not page.locator("fieldset[data-kind=pairwise-llm]").first.is_visible()
    page.select_option("select[name='judge_panel-0-verifier-mode']", "numeric")
    page.fill("input[name=payout_share_1]", "70")
    page.fill("input[name=payout_share_2]", "30")
    page.fill("input[name=creator_rake]", "2.5")
    page.fill("input[name='fee_tiers-0-name']", "free")
    page.fill("input[name='fee_tiers-0-fee']", "0")
    snap(page, "studio-space-add")
    page.click("input[name=_continue]")
    page.wait_for_selector("#studio-payout-preview")
    space = Space.objects.get(slug="sums")
    assert space.payout_shares == ["0.7", "0.3"] and space.creator_rake_bps == 250
    assert space.judge_panel == [{"kind": "verifier", "mode": "numeric", "tolerance": "0"}]

    # The payout preview follows the fields as they are edited, before saving.
    page.fill("#id_preview_pot", "1000")
    page.wait_for_selector("#studio-preview-result table")
    assert "prize pool 925" in page.locator("#studio-preview-result").inner_text()
    snap(page, "studio-space-edit")

    # "Try it" opens the try page with the panel as edited here.
    with page.expect_popup() as popup:
        page.click("text=Try this judge panel on two answers")
    trial = popup.value
    trial.wait_for_load_state()
    assert '"mode": "numeric"' in trial.locator("textarea[name=panel]").input_value()
    trial.fill("textarea[name=prompt]", "What is 2 + 3?")
    trial.fill("textarea[name=reference]", "5")
    trial.fill("textarea[name=answer_a]", "5")
    trial.fill("textarea[name=answer_b]", "6")
    trial.click("input[type=submit], button[type=submit] >> nth=-1")
    trial.wait_for_selector("text=answer A wins")
    snap(trial, "studio-try-panel")
    trial.close()

    # A prompt bank with a bad row is refused, row by row, in words; the fixed one is taken.
    page.click("text=Upload prompt bank")
    bad = tmp_path / "bank.csv"
    bad.write_text("prompt,reference\nWhat is 2 + 3?,5\nWhat is 4 + 4?,eight\n")
    page.set_input_files("input[name=file]", str(bad))
    page.click("input[type=submit][value=Upload]")
    page.wait_for_selector("#prompt-bank-errors")
    assert "row 3" in page.locator("#prompt-bank-errors").inner_text()
    snap(page, "studio-prompt-bank-errors")
    assert not space.prompts.exists()
    good = tmp_path / "good.csv"
    good.write_text("prompt,reference,split\nWhat is 2 + 3?,5,train\nWhat is 4 + 4?,8,train\n")
    page.set_input_files("input[name=file]", str(good))
    page.click("input[type=submit][value=Upload]")
    page.wait_for_selector("text=added 2 prompts")
    assert space.prompts.count() == 2

    # Open it, then its page: leaderboard, judge-bias report and the export page's link.
    page.goto("/admin/spaces/space/")
    page.check(f"input[name=_selected_action][value='{space.pk}']")
    page.select_option("select[name=action]", "open_spaces")
    page.click("button[name=index]")
    page.wait_for_selector("text=Sums: now open")
    page.goto("/spaces/sums/")
    page.wait_for_selector("[data-testid=judge-report]")
    assert "Export preference data" in page.locator("[data-testid=manager-links]").inner_text()
    snap(page, "studio-space-page")
    assert_accessible(page)
