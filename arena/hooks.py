"""Extension points for apps above arena (arena imports none of them).

The preferences app turns every settled match into preference pairs; it registers a callback in
its ``AppConfig.ready()``::

    from arena.hooks import register_on_match_settled
    register_on_match_settled(lambda match: make_pairs(match))

``match_settle`` runs the callbacks inside the settlement's transaction, after the payouts, so the
pairs exist exactly when the settlement does (a failing callback rolls the settlement back and
the step's failure policy applies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arena.models import Match

MatchCallback = Callable[["Match"], None]
_on_match_settled: list[MatchCallback] = []


def register_on_match_settled(callback: MatchCallback) -> None:
    if callback not in _on_match_settled:
        _on_match_settled.append(callback)


def run_on_match_settled(match: Match) -> None:
    for callback in _on_match_settled:
        callback(match)
