"""Standings refits: read a space's settled matches (arena's tables) as plain rankings and hand
them to ``judges.standings``, which fits and stores them. Run every 10 minutes for the spaces
with settled matches not in their last fit (task ``arena.refit_standings``) and on demand
(``manage.py refit_standings``)."""

from __future__ import annotations

import logging
from itertools import groupby
from operator import itemgetter

from django.core.cache import cache
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Length

from agents.models import Agent
from arena.models import Match, Seat
from judges.bradley_terry import DEFAULT_ROUNDS, fit_standings
from judges.errors import JudgeError
from judges.models import StandingsFit
from judges.standings import standings_refit
from spaces.models import FeeTier, Space

logger = logging.getLogger(__name__)

# The leaderboard of one fee tier is fitted on demand, over that tier's settled matches, with
# fewer bootstrap rounds than the stored fit (it runs in a page request), and cached under the
# tier's count and last id of settled matches: a new settled match makes a new key, so a cached
# board is never stale, and nothing is stored per tier.
TIER_ROUNDS = 100
TIER_CACHE_S = 3600


def space_matches_for_fit(
    space: Space, *, fee_tier: FeeTier | None = None
) -> tuple[list[list[tuple[int, int, int]]], int]:
    """The space's settled matches (of one ``fee_tier`` when given) as rankings, each a list of
    ``(agent_id, rank, chars)`` seats (chars: the answer's length), and how many settled matches
    were read. Read in one query, streamed; the answers' texts stay in the database (only their
    lengths come back)."""
    seats = Seat.objects.filter(match__space=space, match__status=Match.Status.SETTLED)
    if fee_tier is not None:
        seats = seats.filter(match__fee_tier=fee_tier)
    rows = (
        seats.annotate(chars=Length("text"))
        .order_by("match_id", "index")
        .values_list("match_id", "agent_id", "rank", "chars")
        .iterator(chunk_size=10_000)
    )
    matches, read = [], 0
    for _, seats in groupby(rows, key=itemgetter(0)):
        read += 1
        ranked = [(agent, rank, chars or 0) for _, agent, rank, chars in seats if rank is not None]
        if len(ranked) >= 2:
            matches.append(ranked)
    return matches, read


def refit_space(
    space: Space, *, rounds: int = DEFAULT_ROUNDS, seed: int = 0
) -> StandingsFit | None:
    """Fit and store the space's standings over all its settled matches; None when it has no
    match to fit."""
    matches, read = space_matches_for_fit(space)
    return standings_refit(
        space=space, matches=matches, source_matches=read, rounds=rounds, seed=seed
    )


def spaces_due_for_refit() -> QuerySet[Space]:
    """Spaces with settled matches that their stored fit did not read (or with no fit yet)."""
    return (
        Space.objects.annotate(
            settled=Count("matches", filter=Q(matches__status=Match.Status.SETTLED))
        )
        .filter(settled__gt=0)
        .filter(Q(standings_fit__isnull=True) | ~Q(standings_fit__source_matches=F("settled")))
        .order_by("pk")
    )


def refit_due_spaces(*, rounds: int = DEFAULT_ROUNDS) -> list[str]:
    """Refit every space that is due; the slugs of those refitted. A space whose data the fit
    refuses is logged and skipped, so it cannot hold up the others."""
    done = []
    for space in spaces_due_for_refit():
        try:
            refit_space(space, rounds=rounds)
        except JudgeError:
            logger.exception("standings refit of space %s failed", space.slug)
            continue
        done.append(space.slug)
    return done


def _tier_fit(space: Space, fee_tier: FeeTier) -> list[dict]:
    settled = Match.objects.filter(space=space, fee_tier=fee_tier, status=Match.Status.SETTLED)
    stamp = settled.aggregate(n=Count("id"), last=Max("id"))
    key = f"tier-standings:{space.pk}:{fee_tier.pk}:{stamp['n']}:{stamp['last']}:{TIER_ROUNDS}"
    rows = cache.get(key)
    if rows is None:
        matches, _ = space_matches_for_fit(space, fee_tier=fee_tier)
        fitted = fit_standings(matches, rounds=TIER_ROUNDS, seed=0) if matches else None
        rows = [
            {
                "agent_id": row.agent,
                "strength": round(row.strength, 3),
                "lower": round(row.lower, 3),
                "upper": round(row.upper, 3),
                "rank": row.rank,
                "matches": row.matches,
                "win_rate": round(row.win_rate, 3),
            }
            for row in (fitted.standings if fitted else [])
        ]
        cache.set(key, rows, TIER_CACHE_S)
    return rows


def tier_leaderboard(*, space: Space, fee_tier: FeeTier, limit: int = 50) -> list[dict]:
    """The leaderboard of one fee tier: a Plackett-Luce fit (with 95% bootstrap intervals and
    rank by interval) over the space's settled matches in that tier, best first, with the same
    keys as ``arena.selectors.leaderboard`` (``ordinal``, ``mu``, ``sigma`` None: openskill
    ratings are per space, not per tier; ``winnings``: credits won in this tier)."""
    rows = _tier_fit(space, fee_tier)[: max(int(limit), 0)]
    ids = [row["agent_id"] for row in rows]
    agents = Agent.objects.select_related("owner").in_bulk(ids)
    winnings = dict(
        Seat.objects.filter(
            match__space=space,
            match__fee_tier=fee_tier,
            match__status=Match.Status.SETTLED,
            agent_id__in=ids,
        )
        .values("agent_id")
        .annotate(total=Sum("payout"))
        .values_list("agent_id", "total")
    )
    return [
        {
            **row,
            "place": place,
            "agent": agents[row["agent_id"]].name,
            "owner": agents[row["agent_id"]].owner.username,
            "mu": None,
            "sigma": None,
            "ordinal": None,
            "winnings": winnings.get(row["agent_id"], 0) or 0,
        }
        for place, row in enumerate(rows, start=1)
        if row["agent_id"] in agents
    ]
