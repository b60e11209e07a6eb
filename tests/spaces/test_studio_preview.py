"""The editor's payout preview: who gets what for a pot and a ranking under the shares and
rakes as edited, by the settlement's own split; and the revenue box."""

from __future__ import annotations

import pytest

from tests.spaces.conftest import make_space
from tests.spaces.studio import share_fields

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spaces.urls")]

PREVIEW = "/admin/spaces/space/studio/payout-preview/"


def test_the_preview_splits_the_pot_as_a_match_would(client, carol):
    space = make_space(carol, "preview")
    client.force_login(carol)
    query = {
        **share_fields(["0.6", "0.3", "0.1"]),
        "creator_rake": "5",
        "preview_pot": "1001",
        "preview_ranking": "1, 2, 2",
        "agents_per_match": "3",
        "space": str(space.pk),
    }
    page = client.get(PREVIEW, query)
    preview = page.context["preview"]
    # Rakes floor(1001 * 5%) = 50 each (the creator's platform rake field is the stored 5%).
    assert (preview.creator_rake, preview.platform_rake, preview.pool) == (50, 50, 901)
    # 1st: 60% of 901 = 540.6; the tied two share (30% + 10%) / 2 = 20% = 180.2 each; the
    # credits the floors leave go one each to the best-ranked seats.
    assert [(r.rank, r.seat, r.share, r.credits) for r in preview.rows] == [
        (1, 1, "60%", 541),
        (2, 2, "20%", 180),
        (2, 3, "20%", 180),
    ]
    assert sum(r.credits for r in preview.rows) + 100 == 1001
    assert "Payouts by place" in page.text


def test_the_preview_names_what_is_wrong(client, carol):
    client.force_login(carol)
    bad_sum = client.get(PREVIEW, {**share_fields(["0.6", "0.3"]), "payout_share_2": "20"})
    assert bad_sum.context["error"] == (
        "Payout shares add up to 80%; they must add up to exactly 100%"
    )
    bad_pot = client.get(PREVIEW, {**share_fields(["1"]), "preview_pot": "lots"})
    assert bad_pot.context["error"].startswith("Pot must be a whole number from 0")
    bad_ranking = client.get(PREVIEW, {**share_fields(["1"]), "preview_ranking": "first"})
    assert bad_ranking.context["error"].startswith("Ranking must list 1 to 8 places")


def test_the_editor_shows_the_preview_box_and_the_creator_revenue(client, carol):
    space = make_space(carol, "boxes")
    client.force_login(carol)
    page = client.get(f"/admin/spaces/space/{space.pk}/change/").text
    assert 'id="studio-payout-preview"' in page and PREVIEW in page
    assert "revenue account holds <strong>0 credits</strong>" in page
    assert "Move to my balance" in page


def test_the_creator_moves_revenue_to_her_balance_and_a_bad_amount_moves_nothing(client, carol):
    from ledger import services as ledger

    ledger.grant(user=carol, amount=30, key="fund-carol")
    ledger.hold(user=carol, escrow_ref="match:77", amount=30, key="hold-carol")
    revenue = ledger.creator_revenue_account(carol)
    ledger.settle(escrow_ref="match:77", payouts=[(revenue, 30)], key="settle-77")
    client.force_login(carol)
    move = "/admin/spaces/space/studio/move-revenue/"

    refused = client.post(move, {"amount": "31"}, follow=True)
    assert "Nothing moved: your creator revenue holds 30 credits, not 31" in refused.text
    assert ledger.balance(revenue) == 30
    assert "Amount: enter a whole number" in client.post(move, {"amount": "x"}, follow=True).text

    client.post(move, {"amount": "30"})
    assert ledger.balance(revenue) == 0
    # The rake came from a pot of play credits, so it stays play credits on her balance.
    assert ledger.user_balances(carol).play == 30
