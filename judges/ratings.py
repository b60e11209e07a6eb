"""Per-space skill ratings with openskill's Plackett-Luce model (multi-player, ties allowed).

Matchmaking pairs agents by rating and leaderboards sort by the ordinal ``mu - 3 sigma``. Two
matches of the same agent may settle at once, so an update locks the agents' rating rows
(``select_for_update``, in agent id order so two updates cannot deadlock) and computes the new
values from what it read under the lock: no update is lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from openskill.models import PlackettLuce

from judges.errors import RatingError
from judges.models import DEFAULT_MU, DEFAULT_SIGMA, Rating, ordinal_expression


def rating_model() -> PlackettLuce:
    return PlackettLuce(mu=DEFAULT_MU, sigma=DEFAULT_SIGMA)


@transaction.atomic
def update_ratings(
    *,
    space,
    ranks: Sequence[int],
    agents: Sequence | None = None,
    agents_in_rank_order: Sequence | None = None,
) -> list[Rating]:
    """Rate one match: ``agents[k]`` finished at ``ranks[k]`` (1 = best, equal ranks = a tie;
    any order). ``agents_in_rank_order`` is accepted as another name for ``agents``. Returns the
    updated ratings in the agents' order; each agent's ``matches_played`` goes up by one."""
    if (agents is None) == (agents_in_rank_order is None):
        raise RatingError("pass the match's agents as agents= (or agents_in_rank_order=)")
    agents = list(agents if agents is not None else agents_in_rank_order)
    ranks = list(ranks)
    if len(agents) != len(ranks):
        raise RatingError(f"{len(agents)} agents but {len(ranks)} ranks")
    if len(agents) < 2:
        raise RatingError("a rating update needs at least two agents")
    if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in ranks):
        raise RatingError(f"ranks must be integers >= 1, not {ranks}")
    agent_ids = [a.pk for a in agents]
    if len(set(agent_ids)) != len(agent_ids):
        raise RatingError("an agent appears twice in one match")

    # Make sure every row exists (a concurrent update may create it first: ignore that), then
    # lock them all before reading mu and sigma.
    Rating.objects.bulk_create(
        [Rating(agent_id=pk, space=space) for pk in agent_ids], ignore_conflicts=True
    )
    locked = {
        r.agent_id: r
        for r in Rating.objects.select_for_update()
        .filter(space=space, agent_id__in=agent_ids)
        .order_by("agent_id")
    }
    rows = [locked[pk] for pk in agent_ids]

    model = rating_model()
    teams = [[model.rating(mu=r.mu, sigma=r.sigma)] for r in rows]
    rated = model.rate(teams, ranks=ranks)
    now = timezone.now()  # bulk_update skips auto_now
    for row, [new] in zip(rows, rated, strict=True):
        row.previous = {"mu": row.mu, "sigma": row.sigma}  # not stored here; callers may keep it
        row.updated = now
        row.mu = new.mu
        row.sigma = new.sigma
        row.matches_played += 1
    Rating.objects.bulk_update(rows, ["mu", "sigma", "matches_played", "updated"])
    return rows


def leaderboard(*, space, limit: int = 50) -> QuerySet[Rating]:
    """The space's ratings, best ordinal (``mu - 3 sigma``) first; ties by agent id. Each row has
    ``score`` (the ordinal, computed in the database) and its agent and owner loaded."""
    return (
        Rating.objects.filter(space=space)
        .annotate(score=ordinal_expression())
        .select_related("agent", "agent__owner")
        .order_by("-score", "agent_id")[: max(int(limit), 0)]
    )


def ordinals(*, space, agent_ids) -> dict[int, float]:
    """Ordinals of the given agents in the space, computed by the database; agents that never
    played there are absent."""
    rows = (
        Rating.objects.filter(space=space, agent_id__in=agent_ids)
        .annotate(score=ordinal_expression())
        .values_list("agent_id", "score")
    )
    return dict(rows)


def rating_of(*, agent, space) -> Rating:
    """The agent's rating in the space; an unsaved default one when it has not played there."""
    found = Rating.objects.filter(agent=agent, space=space).first()
    return found or Rating(agent=agent, space=space)
