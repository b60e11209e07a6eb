"""Storing standings (judges.standings): the space's rows are replaced whole, in one
transaction, and a fit that read fewer matches than the stored one never replaces it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import IntegrityError

from judges.bradley_terry import fit_standings
from judges.errors import RatingError
from judges.models import Standing, StandingsFit
from judges.standings import standings_refit, standings_store


def rankings(best, worst, n=6):
    """``n`` matches, ``best`` beating ``worst`` each time with a longer answer."""
    return [[(best.pk, 1, 200), (worst.pk, 2, 100)]] * n


def test_it_stores_one_row_per_agent_and_the_fit(space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    matches = rankings(a, b) + rankings(b, c) + [[(a.pk, 1, 10), (b.pk, 2, 10), (c.pk, 3, 10)]]
    fit = standings_refit(space=space, matches=matches, rounds=30, seed=1)

    rows = list(Standing.objects.filter(space=space))
    assert [row.agent_id for row in rows] == [a.pk, b.pk, c.pk]  # by rank, then strength
    assert rows[0].rank == 1 and rows[0].strength > rows[1].strength > rows[2].strength
    assert rows[1].matches == 13 and rows[0].win_rate == 1.0 and rows[2].win_rate == 0.0
    assert all(row.lower <= row.upper and row.fitted_at == fit.fitted_at for row in rows)
    assert (fit.space_id, fit.matches, fit.source_matches, fit.rounds, fit.seed) == (
        space.pk,
        13,
        13,
        30,
        1,
    )
    assert fit.length_lower <= fit.length_coef <= fit.length_upper and fit.length_scale > 0


def test_a_refit_replaces_the_rows_of_its_space_only(space, other_space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    standings_refit(space=space, matches=rankings(a, b), rounds=10)
    standings_refit(space=other_space, matches=rankings(a, c), rounds=10)
    fit = standings_refit(space=space, matches=rankings(c, b, n=8), source_matches=9, rounds=10)

    assert set(Standing.objects.filter(space=space).values_list("agent_id", flat=True)) == {
        b.pk,
        c.pk,
    }
    assert set(Standing.objects.filter(space=other_space).values_list("agent_id", flat=True)) == {
        a.pk,
        c.pk,
    }
    assert StandingsFit.objects.count() == 2
    assert StandingsFit.objects.get(space=space) == fit and fit.source_matches == 9


def test_a_store_that_fails_half_way_leaves_the_old_standings_whole(space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    old = standings_refit(space=space, matches=rankings(a, b), rounds=10)
    before = list(Standing.objects.filter(space=space).values())

    fitted = fit_standings(rankings(a, c) + rankings(c, b), rounds=10)
    broken = replace(
        fitted,
        standings=[*fitted.standings[:-1], replace(fitted.standings[-1], lower=5.0, upper=-5.0)],
    )
    with pytest.raises(IntegrityError):
        standings_store(space=space, standings=broken, source_matches=12)

    assert list(Standing.objects.filter(space=space).values()) == before
    assert StandingsFit.objects.get(space=space).fitted_at == old.fitted_at


def test_a_fit_of_fewer_matches_than_the_stored_one_is_dropped(space, make_agent):
    a, b = make_agent(), make_agent()
    newer = standings_refit(space=space, matches=rankings(a, b, n=10), rounds=10)
    stale = standings_refit(space=space, matches=rankings(b, a, n=4), rounds=10)
    assert stale == newer and stale.source_matches == 10
    assert Standing.objects.get(space=space, rank=1).agent_id == a.pk


def test_bad_input_changes_nothing(space, make_agent):
    a, b = make_agent(), make_agent()
    standings_refit(space=space, matches=rankings(a, b), rounds=10)
    before = list(Standing.objects.filter(space=space).values())
    with pytest.raises(RatingError, match="rounds must be an integer from 1 to"):
        standings_refit(space=space, matches=rankings(b, a, n=20), rounds=0)
    with pytest.raises(RatingError, match="appears twice"):
        standings_refit(space=space, matches=[[(a.pk, 1, 1), (a.pk, 2, 1)]] * 20, rounds=5)
    assert list(Standing.objects.filter(space=space).values()) == before
    assert standings_refit(space=space, matches=[], rounds=5) is None


def test_staff_see_standings_in_the_admin_and_nobody_edits_them(client, staff, space, make_agent):
    a, b = make_agent("ace"), make_agent("bee")
    fit = standings_refit(space=space, matches=rankings(a, b), rounds=10)
    standing = Standing.objects.get(space=space, agent=a)
    client.force_login(staff)
    listing = client.get("/admin/judges/standing/")
    assert listing.status_code == 200 and "ace" in listing.content.decode()
    assert client.get("/admin/judges/standing/add/").status_code == 403
    page = client.get(f"/admin/judges/standing/{standing.pk}/change/").content.decode()
    assert 'name="strength"' not in page
    assert client.get(f"/admin/judges/standingsfit/{fit.pk}/change/").status_code == 200
