"""Extension points for apps above arena (arena imports none of them).

The preferences app turns every settled match into preference pairs; it registers a callback in
its ``AppConfig.ready()``::

    from arena.hooks import register_on_match_settled
    register_on_match_settled(lambda match: make_pairs(match))

``match_settle`` runs the callbacks inside the settlement's transaction, after the payouts, so the
pairs exist exactly when the settlement does (a failing callback rolls the settlement back and
the step's failure policy applies).

It also offers a space's managers (creator, staff) its exports on the space page: it registers
a provider of ``(label, url)`` links with ``register_space_manager_links``; the page shows them
to the people ``spaces_managed_by`` lets manage the space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arena.models import Match
    from spaces.models import Space

MatchCallback = Callable[["Match"], None]
_on_match_settled: list[MatchCallback] = []


def register_on_match_settled(callback: MatchCallback) -> None:
    if callback not in _on_match_settled:
        _on_match_settled.append(callback)


def run_on_match_settled(match: Match) -> None:
    for callback in _on_match_settled:
        callback(match)


LinkProvider = Callable[["Space"], list[tuple[str, str]]]
_manager_links: list[LinkProvider] = []


def register_space_manager_links(provider: LinkProvider) -> None:
    if provider not in _manager_links:
        _manager_links.append(provider)


def space_manager_links(space: Space) -> list[tuple[str, str]]:
    """The (label, url) links every registered provider offers a space's managers."""
    return [link for provider in _manager_links for link in provider(space)]


# Verifiable rollouts: ``arena.services.rollout_audit`` runs these for a match one of whose
# rollouts it has just flagged (or, re-audited, no longer flags), inside the transaction that
# stores the audit. The preferences app registers the re-gating of the pairs (a flagged
# rollout's pairs are held back).
_on_rollout_flag_changed: list[MatchCallback] = []


def register_on_rollout_flag_changed(callback: MatchCallback) -> None:
    if callback not in _on_rollout_flag_changed:
        _on_rollout_flag_changed.append(callback)


def run_on_rollout_flag_changed(match: Match) -> None:
    for callback in _on_rollout_flag_changed:
        callback(match)


# The agent page: apps above arena add sections to it (the learning app: training jobs,
# versions, gates and proofs). A provider returns the URL of an HTML fragment for the agent's
# owner (or None); the page loads each fragment in place (htmx), so arena never imports them.
AgentSectionProvider = Callable[[Any, Any], str | None]  # (agent, user) -> fragment URL
_agent_sections: list[AgentSectionProvider] = []


def register_agent_page_section(provider: AgentSectionProvider) -> None:
    if provider not in _agent_sections:
        _agent_sections.append(provider)


def agent_page_sections(agent, user) -> list[str]:
    return [url for provider in _agent_sections if (url := provider(agent, user))]
