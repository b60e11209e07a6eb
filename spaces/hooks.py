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

Apps above spaces may add links to a space's admin page (``register_space_admin_link``): the
judges app links its "Try a judge panel" page, prefilled from the space.

The judges app owns what a judge panel may hold. It registers the one checker spaces runs on a
space's ``judge_panel`` (``register_judge_panel_checker``, from ``JudgesConfig.ready()``); without
it no panel can be checked, and ``judge_panel_checker()`` refuses loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from spaces.models import FeeTier, Space

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


# A fee tier removed by an economics change: arena gives the entries still waiting in it their
# fees back, inside the transaction that applies the change.
TierRemovedCallback = Callable[["FeeTier"], None]
_on_tier_removed: list[TierRemovedCallback] = []


def register_on_fee_tier_removed(callback: TierRemovedCallback) -> None:
    if callback not in _on_tier_removed:
        _on_tier_removed.append(callback)


def unregister_on_fee_tier_removed(callback: TierRemovedCallback) -> None:
    if callback in _on_tier_removed:
        _on_tier_removed.remove(callback)


def fee_tier_removed(tier: FeeTier) -> None:
    for callback in _on_tier_removed:
        callback(tier)


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


# Links on a space's admin page to tools of apps above spaces (judges: "Try a judge panel").
# ``url_for`` returns the link's URL for that space, or None to show no link.
AdminLinkUrl = Callable[["Space"], "str | None"]
_admin_links: list[tuple[str, AdminLinkUrl]] = []


def register_space_admin_link(label: str, url_for: AdminLinkUrl) -> None:
    if (label, url_for) not in _admin_links:
        _admin_links.append((label, url_for))


def unregister_space_admin_link(label: str, url_for: AdminLinkUrl) -> None:
    if (label, url_for) in _admin_links:
        _admin_links.remove((label, url_for))


def space_admin_links(space: Space) -> list[tuple[str, str]]:
    """(label, url) of each registered link for this space, in registration order."""
    links = []
    for label, url_for in _admin_links:
        url = url_for(space)
        if url:
            links.append((label, url))
    return links


# The judge panel: its checks belong to the judges app, which spaces does not import.


@dataclass(frozen=True)
class JudgeNeeds:
    """What one judge of a panel needs on every prompt."""

    index: int  # its place in the panel
    label: str  # the judge in words: "verifier in mode numeric"
    reference: bool  # a reference answer
    tests: bool  # tests (Python snippets run on the answer's code)


class JudgePanelChecker(Protocol):
    def normalize(self, panel: Any) -> list[dict[str, Any]]:
        """The panel to store (defaults filled in), or django ValidationError with one message
        per problem, naming the judge and the field."""

    def needs(self, panel: list[dict[str, Any]]) -> list[JudgeNeeds]:
        """What each judge of a stored panel needs on every prompt."""


_judge_panel_checker: JudgePanelChecker | None = None


def register_judge_panel_checker(checker: JudgePanelChecker) -> None:
    """Install the one checker of judge panels (a second call replaces it)."""
    global _judge_panel_checker
    _judge_panel_checker = checker


def judge_panel_checker() -> JudgePanelChecker:
    if _judge_panel_checker is None:
        raise ImproperlyConfigured(
            "no judge panel checker is registered: the judges app registers it in "
            "JudgesConfig.ready(); is it in INSTALLED_APPS?"
        )
    return _judge_panel_checker
