"""A space's leaderboard: sorted and cut by the database, with places and credits won, and ranked
by the standings' intervals once the space has them."""

from __future__ import annotations

from django.utils import timezone

from agents.inference.scripted import use_script
from arena.selectors import leaderboard
from arena.services.matches import match_run_inline
from judges.models import Rating, Standing
from tests.arena.helpers import form_match, sum_answer


def test_it_ranks_by_ordinal_cuts_at_the_limit_and_adds_winnings(
    players, space, tier, agent_factory, django_assert_max_num_queries
):
    alice, bob, dave = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    with use_script(sum_answer):
        match_run_inline(match_id=match.pk)
    won = match.seats.get(rank=1)
    extra = [agent_factory(dave, name=f"extra-{i}") for i in range(5)]
    for i, agent in enumerate(extra):
        # ordinals -10 .. -14: all below the two that played (mu 25ish, sigma < 25/3)
        Rating.objects.create(agent=agent, space=space, mu=10 - i, sigma=20 / 3)

    with django_assert_max_num_queries(2):  # the ratings page, then the winnings of that page
        rows = leaderboard(space=space, limit=3)

    assert [row["place"] for row in rows] == [1, 2, 3]
    assert rows[0]["agent_id"] == won.agent_id and rows[0]["winnings"] == won.payout > 0
    assert rows[2]["agent"] == "extra-0" and rows[2]["winnings"] == 0
    ordinals = [row["ordinal"] for row in rows]
    assert ordinals == sorted(ordinals, reverse=True)
    rating = Rating.objects.get(agent_id=won.agent_id, space=space)
    assert rows[0]["ordinal"] == round(rating.ordinal, 3)
    assert leaderboard(space=space, limit=0) == []


def test_with_standings_it_ranks_by_interval_then_strength_and_adds_intervals(
    players, space, agent_factory, django_assert_max_num_queries
):
    alice, bob, dave = players
    agents = [agent_factory(owner, name=f"s-{i}") for i, owner in enumerate([alice, bob, dave])]
    late = agent_factory(alice, name="late")  # rated, but not in the fit yet
    now = timezone.now()
    # Ordinals say s-0 > s-1 > s-2 > late; the standings say s-2 first, s-1 and s-0 sharing 2.
    for i, agent in enumerate([*agents, late]):
        Rating.objects.create(agent=agent, space=space, mu=30 - 2 * i, sigma=2)
    fitted = [(agents[2], 1.5, 1.1, 1.9, 1), (agents[1], 0.2, -0.5, 0.9, 2)]
    fitted.append((agents[0], 0.4, -0.2, 1.0, 2))
    for agent, strength, lower, upper, rank in fitted:
        Standing.objects.create(
            space=space,
            agent=agent,
            strength=strength,
            lower=lower,
            upper=upper,
            rank=rank,
            matches=10,
            win_rate=0.5,
            fitted_at=now,
        )

    with django_assert_max_num_queries(2):
        rows = leaderboard(space=space, limit=10)

    assert [row["agent"] for row in rows] == ["s-2", "s-0", "s-1", "late"]
    assert [row["place"] for row in rows] == [1, 2, 3, 4]
    assert [row["rank"] for row in rows] == [1, 2, 2, None]
    assert (rows[0]["strength"], rows[0]["lower"], rows[0]["upper"]) == (1.5, 1.1, 1.9)
    assert rows[0]["win_rate"] == 0.5 and rows[0]["ordinal"] == round(26 - 6, 3)
    assert rows[3]["strength"] is rows[3]["lower"] is rows[3]["win_rate"] is None
    assert [row["agent"] for row in leaderboard(space=space, limit=2)] == ["s-2", "s-0"]
