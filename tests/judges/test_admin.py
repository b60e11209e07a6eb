"""The judges admin: staff can look, nobody edits what the match loop wrote."""

from __future__ import annotations

from judges.models import Rating


def test_it_lists_ratings_read_only_for_staff(client, staff, space, make_agent):
    rating = Rating.objects.create(agent=make_agent("ace"), space=space, mu=30, sigma=2)
    client.force_login(staff)
    listing = client.get("/admin/judges/rating/")
    assert listing.status_code == 200
    assert "ace" in listing.content.decode() and "24.0" in listing.content.decode()
    assert client.get("/admin/judges/rating/add/").status_code == 403
    page = client.get(f"/admin/judges/rating/{rating.pk}/change/")
    assert page.status_code == 200 and 'name="mu"' not in page.content.decode()
    assert client.get("/admin/judges/verdict/").status_code == 200


def test_it_keeps_outsiders_out(client, mallory):
    client.force_login(mallory)
    assert client.get("/admin/judges/rating/").status_code == 302
