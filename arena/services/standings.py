"""Standings refits: read a space's settled matches (arena's tables) as plain rankings and hand
them to ``judges.standings``, which fits and stores them. Run every 10 minutes for the spaces
with settled matches not in their last fit (task ``arena.refit_standings``) and on demand
(``manage.py refit_standings``)."""

from __future__ import annotations

import logging
from itertools import groupby
from operator import itemgetter

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Length

from arena.models import Match, Seat
from judges.bradley_terry import DEFAULT_ROUNDS
from judges.errors import JudgeError
from judges.models import StandingsFit
from judges.standings import standings_refit
from spaces.models import Space

logger = logging.getLogger(__name__)


def space_matches_for_fit(space: Space) -> tuple[list[list[tuple[int, int, int]]], int]:
    """The space's settled matches as rankings, each a list of ``(agent_id, rank, chars)`` seats
    (chars: the answer's length), and how many settled matches were read. Read in one query,
    streamed; the answers' texts stay in the database (only their lengths come back)."""
    rows = (
        Seat.objects.filter(match__space=space, match__status=Match.Status.SETTLED)
        .annotate(chars=Length("text"))
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
