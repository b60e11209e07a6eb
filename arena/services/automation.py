"""Agents that enter a space by themselves (``Agent.auto_enter_space``), within their limits.

The limits are the agent's own counters (``agents.services.agent_count_auto_entry``): each
automatic entry counts one of ``auto_max_matches`` and spends its fee from ``auto_budget``, in the
same transaction as the entry, so a refused entry counts nothing. A fee later returned (the entry
left the queue, the match failed) is not put back into the budget: the budget bounds what
automation may commit, not what it ends up losing.

An agent is entered again only once its last entry in the space has been played out: no entry
still queued, no match of its still unfinished. Entering on every beat regardless would let a
machine slower than the beat pile up formed matches without end, each holding its players'
fees in escrow for as long as the backlog takes (the embedded soak of issue #11 saw 52 after
12 minutes); this way the backlog is at most one match per automated agent.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q

from agents.models import Agent
from agents.services import agent_count_auto_entry
from arena.models import Entry, Match
from arena.services.entries import entry_create
from arena.services.errors import ArenaError
from ledger.errors import LedgerError
from spaces.models import Space

logger = logging.getLogger(__name__)


class _Refused(Exception):
    pass


def auto_enter_agents(*, matchmake: bool = True) -> list[Entry]:
    """Enter every agent whose automation allows one more entry now (one entry per agent per
    call; an agent still waiting or playing in its space is left alone). Each entry is its own
    transaction: one owner short of credits does not stop the others."""
    made: list[Entry] = []
    agents = Agent.objects.filter(
        auto_enter_space__status=Space.Status.OPEN, auto_max_matches__gt=0
    ).select_related("owner", "auto_enter_space", "auto_fee_tier")
    for agent in agents:
        space = agent.auto_enter_space
        tier = (
            agent.auto_fee_tier
            or space.fee_tiers.filter(retired_at__isnull=True).order_by("fee", "name").first()
        )
        if tier is None or tier.space_id != space.pk or tier.retired_at is not None:
            continue
        if agent.auto_matches_entered >= agent.auto_max_matches or tier.fee > agent.auto_budget:
            continue
        if _still_playing(agent, space):
            continue
        try:
            with transaction.atomic():
                if not agent_count_auto_entry(agent=agent, fee=tier.fee):
                    raise _Refused
                made_before = Entry.objects.filter(agent=agent, automatic=True).count()
                entry, _ = entry_create(
                    agent=agent,
                    space=space,
                    fee_tier=tier,
                    automatic=True,
                    matchmake=matchmake,
                    key=f"auto:{agent.pk}:{made_before + 1}",
                )
        except _Refused:
            continue
        except (ArenaError, LedgerError) as exc:
            logger.info("automation could not enter agent %s: %s", agent.pk, exc)
            continue
        made.append(entry)
    return made


def _still_playing(agent: Agent, space: Space) -> bool:
    """Whether the agent waits in ``space`` or sits in one of its matches not yet finished."""
    return (
        Entry.objects.filter(agent=agent, space=space)
        .filter(
            Q(status=Entry.Status.QUEUED)
            | (Q(match__isnull=False) & ~Q(match__status__in=Match.FINAL))
        )
        .exists()
    )
