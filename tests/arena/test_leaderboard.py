"""A space's leaderboard: sorted and cut by the database, with places and credits won."""

from __future__ import annotations

from agents.inference.scripted import use_script
from arena.selectors import leaderboard
from arena.services.matches import match_run_inline
from judges.models import Rating
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
