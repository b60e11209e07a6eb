"""Extension points for apps above spaces (spaces imports none of them).

The arena app knows a space's entries, matches and the creator's revenue; it registers a provider
in its ``AppConfig.ready()``::

    from spaces.hooks import register_space_summary
    register_space_summary(lambda space: [("matches settled", "12"), ("creator revenue", "340")])

and the space's admin page shows those lines in its "Activity" box.

It also registers what must happen when a space closes (its waiting entries get their fees
back); ``space_set_status`` runs those callbacks inside its transaction, so a failure rolls the
close back. And it reports what is in play in a space (waiting entries, unfinished matches), which
keeps a creator from changing the economics those were entered under.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spaces.models import Space

SummaryProvider = Callable[["Space"], list[tuple[str, str]]]
_providers: list[SummaryProvider] = []


def register_space_summary(provider: SummaryProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def unregister_space_summary(provider: SummaryProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def space_summary(space: Space) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for provider in _providers:
        lines.extend(provider(space))
    return lines


CloseCallback = Callable[["Space"], None]
_on_close: list[CloseCallback] = []


def register_on_space_closed(callback: CloseCallback) -> None:
    if callback not in _on_close:
        _on_close.append(callback)


def space_closed(space: Space) -> None:
    for callback in _on_close:
        callback(space)


# What is being played in a space right now ("2 entries waiting", "1 match in progress"): play
# that was entered under the space's current economics, so the creator may not change them yet.
InPlayProvider = Callable[["Space"], list[str]]
_in_play: list[InPlayProvider] = []


def register_space_in_play(provider: InPlayProvider) -> None:
    if provider not in _in_play:
        _in_play.append(provider)


def unregister_space_in_play(provider: InPlayProvider) -> None:
    if provider in _in_play:
        _in_play.remove(provider)


def space_in_play(space: Space) -> list[str]:
    lines: list[str] = []
    for provider in _in_play:
        lines.extend(provider(space))
    return lines
