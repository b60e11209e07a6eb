"""openskill ratings per space, and the leaderboard."""

from __future__ import annotations

import threading

import pytest

from judges.errors import RatingError
from judges.models import DEFAULT_MU, DEFAULT_SIGMA, Rating
from judges.ratings import leaderboard, rating_of, update_ratings


def mu_of(agent, space) -> float:
    return Rating.objects.get(agent=agent, space=space).mu


def test_it_raises_the_winner_and_lowers_the_loser(space, make_agent):
    winner, loser = make_agent(), make_agent()
    update_ratings(space=space, agents=[winner, loser], ranks=[1, 2])
    won, lost = Rating.objects.get(agent=winner), Rating.objects.get(agent=loser)
    assert won.mu > DEFAULT_MU > lost.mu
    assert won.sigma < DEFAULT_SIGMA and lost.sigma < DEFAULT_SIGMA
    assert won.matches_played == lost.matches_played == 1
    assert won.ordinal > lost.ordinal


def test_it_moves_nobody_up_or_down_in_a_tie_of_equals(space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    update_ratings(space=space, agents=[a, b, c], ranks=[1, 1, 3])
    assert mu_of(a, space) == pytest.approx(mu_of(b, space))
    assert mu_of(a, space) > DEFAULT_MU > mu_of(c, space)

    d, e = make_agent(), make_agent()
    update_ratings(space=space, agents=[d, e], ranks=[1, 1])
    assert mu_of(d, space) == pytest.approx(DEFAULT_MU)
    assert Rating.objects.get(agent=d).sigma < DEFAULT_SIGMA  # but it learned something


def test_it_builds_on_the_stored_rating(space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    update_ratings(space=space, agents=[a, b], ranks=[1, 2])
    after_one = mu_of(a, space)
    update_ratings(space=space, agents=[c, a], ranks=[2, 1])
    assert mu_of(a, space) > after_one
    assert Rating.objects.get(agent=a).matches_played == 2


def test_it_does_not_depend_on_the_order_the_agents_come_in(space, other_space, make_agent):
    a, b, c = make_agent(), make_agent(), make_agent()
    update_ratings(space=space, agents=[a, b, c], ranks=[2, 1, 3])
    update_ratings(space=other_space, agents_in_rank_order=[b, a, c], ranks=[1, 2, 3])
    for agent in (a, b, c):
        assert mu_of(agent, space) == pytest.approx(mu_of(agent, other_space))


def test_it_keeps_ratings_per_space(space, other_space, make_agent):
    a, b = make_agent(), make_agent()
    update_ratings(space=space, agents=[a, b], ranks=[1, 2])
    assert not Rating.objects.filter(space=other_space).exists()
    fresh = rating_of(agent=a, space=other_space)
    assert fresh.pk is None and fresh.ordinal == pytest.approx(0)


@pytest.mark.parametrize(
    ("count", "ranks", "message"),
    [
        (2, [1], "2 agents but 1 ranks"),
        (1, [1], "at least two"),
        (2, [0, 1], "integers >= 1"),
        (2, [1, "2"], "integers >= 1"),
    ],
)
def test_it_refuses_bad_input_and_changes_nothing(space, make_agent, count, ranks, message):
    agents = [make_agent() for _ in range(count)]
    with pytest.raises(RatingError, match=message):
        update_ratings(space=space, agents=agents, ranks=ranks)
    assert not Rating.objects.exists()


def test_it_refuses_an_agent_twice(space, make_agent):
    a = make_agent()
    with pytest.raises(RatingError, match="twice"):
        update_ratings(space=space, agents=[a, a], ranks=[1, 2])
    with pytest.raises(RatingError, match="agents="):
        update_ratings(space=space, ranks=[1, 2])
    assert not Rating.objects.exists()


def test_it_orders_the_leaderboard_by_ordinal_not_mu(space, other_space, make_agent):
    steady, lucky, newcomer, elsewhere = (make_agent(n) for n in ("steady", "lucky", "new", "x"))
    Rating.objects.create(agent=steady, space=space, mu=30, sigma=2)  # ordinal 24
    Rating.objects.create(agent=lucky, space=space, mu=35, sigma=5)  # ordinal 20
    Rating.objects.create(agent=newcomer, space=space)  # ordinal 0
    Rating.objects.create(agent=elsewhere, space=other_space, mu=50, sigma=1)
    rows = list(leaderboard(space=space, limit=10))
    assert [r.agent.name for r in rows] == ["steady", "lucky", "new"]
    assert [round(r.score, 6) for r in rows] == [24, 20, 0]
    assert [r.agent.name for r in leaderboard(space=space, limit=2)] == ["steady", "lucky"]


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_update_when_matches_settle_at_once(space, other_space, make_agent):
    """Several threads (own connections) rate matches of the same agent at the same time. The
    rows are locked (PostgreSQL) or the writers queue (SQLite): no update may be lost."""
    star = make_agent()
    rivals = [make_agent() for _ in range(6)]
    start = threading.Barrier(len(rivals))
    errors = []

    def settle(rival):
        from django.db import connections

        try:
            start.wait()
            update_ratings(space=space, agents=[star, rival], ranks=[1, 2])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=settle, args=(r,)) for r in rivals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rating = Rating.objects.get(agent=star, space=space)
    assert rating.matches_played == len(rivals)
    # Every rival is fresh when it plays, so the order does not matter: the same six wins
    # one after another must give the same rating.
    for rival in rivals:
        update_ratings(space=other_space, agents=[star, rival], ranks=[1, 2])
    sequential = Rating.objects.get(agent=star, space=other_space)
    assert rating.mu == pytest.approx(sequential.mu)
    assert rating.sigma == pytest.approx(sequential.sigma)
