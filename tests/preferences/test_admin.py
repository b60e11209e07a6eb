"""The admin shows pairs read-only and changes a space's gate through the service (which
re-gates the pairs)."""

from __future__ import annotations

import pytest

from preferences.models import PairGate, PreferencePair

pytestmark = pytest.mark.django_db


def test_staff_see_pairs_and_cannot_edit_them(client, staff, pairs_space):
    client.force_login(staff)
    pair = PreferencePair.objects.filter(space=pairs_space).first()
    assert client.get("/admin/preferences/preferencepair/").status_code == 200
    page = client.get(f"/admin/preferences/preferencepair/{pair.pk}/change/")
    assert page.status_code == 200 and pair.content_sha256.encode() in page.content
    client.post(f"/admin/preferences/preferencepair/{pair.pk}/change/", {"status": "held_back"})
    pair.refresh_from_db()
    assert pair.status == "kept"


def test_changing_a_gate_in_the_admin_regates_the_pairs(client, staff, pairs_space):
    client.force_login(staff)
    gate = PairGate.objects.get(space=pairs_space)
    response = client.post(
        f"/admin/preferences/pairgate/{gate.pk}/change/",
        {"min_margin": "1", "min_agreement": "0.5", "uninformative_judge_kinds": "[]"},
    )
    assert response.status_code == 302
    statuses = set(
        PreferencePair.objects.filter(space=pairs_space).values_list("status", flat=True)
    )
    assert statuses == {"held_back"}
