"""Storing a space's standings: fit (``judges.bradley_terry``) outside any transaction, then
replace the space's ``Standing`` rows and its ``StandingsFit`` in one transaction, so a reader
sees the whole old fit or the whole new one.

The matches come in as plain data (the caller, arena, reads them): each a sequence of
``(agent_id, rank, chars)`` seats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from judges.bradley_terry import DEFAULT_ROUNDS, Standings, fit_standings
from judges.errors import RatingError
from judges.models import Standing, StandingsFit
from spaces.models import Space

MAX_ROUNDS = 5000  # more resamples add nothing to a 95% interval but minutes


def standings_refit(
    *,
    space: Space,
    matches: Iterable[Sequence[Sequence]],
    source_matches: int | None = None,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
) -> StandingsFit | None:
    """Fit the space's standings to ``matches`` and store them (see ``standings_store``).
    ``source_matches``: how many settled matches the caller read (default: the matches given),
    which tells later whether there are new ones. None when there is nothing to fit."""
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1 <= rounds <= MAX_ROUNDS:
        raise RatingError(f"rounds must be an integer from 1 to {MAX_ROUNDS}, not {rounds!r}")
    matches = list(matches)
    if not matches:
        return None
    fitted = fit_standings(matches, rounds=rounds, seed=seed)
    return standings_store(
        space=space,
        standings=fitted,
        source_matches=len(matches) if source_matches is None else source_matches,
    )


@transaction.atomic
def standings_store(*, space: Space, standings: Standings, source_matches: int) -> StandingsFit:
    """Replace the space's standings with ``standings`` in one transaction. A fit that read fewer
    settled matches than the stored one (two refits that raced) is dropped: the stored one is
    returned."""
    # The space's row serialises the writers of its standings (the first fit has no row of its
    # own to lock yet).
    # (FOR NO KEY UPDATE: see spaces.selectors.lock_space.)
    Space.objects.select_for_update(no_key=True).filter(pk=space.pk).first()
    current = StandingsFit.objects.filter(space=space).first()
    if current is not None and current.source_matches > source_matches:
        return current
    now = timezone.now()
    Standing.objects.filter(space=space).delete()
    Standing.objects.bulk_create(
        [
            Standing(
                space=space,
                agent_id=row.agent,
                strength=row.strength,
                lower=row.lower,
                upper=row.upper,
                rank=row.rank,
                matches=row.matches,
                win_rate=row.win_rate,
                fitted_at=now,
            )
            for row in standings.standings
        ]
    )
    fit, _ = StandingsFit.objects.update_or_create(
        space=space,
        defaults={
            "fitted_at": now,
            "source_matches": source_matches,
            "matches": standings.matches,
            "rounds": standings.rounds,
            "seed": standings.seed,
            "length_coef": standings.length_coef,
            "length_lower": standings.length_lower,
            "length_upper": standings.length_upper,
            "length_scale": standings.length_scale,
            "converged": standings.converged,
        },
    )
    return fit
