"""The admin: read-only entries and matches, a creator sees only their own spaces'; the
space page's activity box."""

from agents.inference.scripted import use_script
from arena.services.matches import match_run_inline
from tests.arena.conftest import make_space
from tests.arena.helpers import form_match, sum_answer


def test_it_shows_a_creator_only_their_spaces_matches(
    client, players, carol, django_user_model, agent_factory
):
    from arena.services.accounts import user_make_creator

    alice, bob, _ = players
    other = django_user_model.objects.create_user("olga", "o@example.com", "olga-pass-123")
    user_make_creator(user=other)
    space = make_space(carol, slug="carols")
    theirs_space = make_space(other, slug="olgas")
    mine = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)
    theirs = form_match(
        theirs_space, theirs_space.fee_tiers.get(name="standard"), [alice, bob], agent_factory
    )
    with use_script(sum_answer):
        match_run_inline(match_id=mine.pk)
    client.force_login(carol)
    page = client.get("/admin/arena/match/").content.decode()
    assert f"/admin/arena/match/{mine.pk}/change/" in page
    assert f"/admin/arena/match/{theirs.pk}/change/" not in page
    assert client.get(f"/admin/arena/match/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/arena/match/{mine.pk}/change/").status_code == 200
    assert client.post("/admin/arena/match/add/").status_code == 403
    # Entries likewise: the creator's own space's entries, not another creator's.
    page = client.get("/admin/arena/entry/").content.decode()
    for entry in mine.entries.all():
        assert f"/admin/arena/entry/{entry.pk}/change/" in page
    for entry in theirs.entries.all():
        assert f"/admin/arena/entry/{entry.pk}/change/" not in page
        assert client.get(f"/admin/arena/entry/{entry.pk}/change/").status_code in (302, 404)


def test_it_reports_entries_matches_and_revenue_to_the_space_admin(players, carol, agent_factory):
    from spaces.hooks import space_summary

    alice, bob, _ = players
    space = make_space(carol, slug="summary")
    match = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)
    with use_script(sum_answer):
        match_run_inline(match_id=match.pk)
    lines = dict(space_summary(space))
    assert lines["matches settled"] == "1"
    assert lines["creator revenue from this space"] == "10 credits"
