"""Agents that enter a space by themselves (``Agent.auto_enter_space``), within their limits.

The limits are the agent's own counters (``agents.services.agent_count_auto_entry``): each
automatic entry counts one of ``auto_max_matches`` and spends its fee from ``auto_budget``, in the
same transaction as the entry, so a refused entry counts nothing. A fee later returned (the entry
left the queue, the match failed) is not put back into the budget: the budget bounds what
automation may commit, not what it ends up losing.
"""

from __future__ import annotations

import logging

from django.db import transaction

from agents.models import Agent
from agents.services import agent_count_auto_entry
from arena.models import Entry
from arena.services.entries import entry_create
from arena.services.errors import ArenaError
from ledger.errors import LedgerError
from spaces.models import Space

logger = logging.getLogger(__name__)


class _Refused(Exception):
    pass


def auto_enter_agents(*, matchmake: bool = True) -> list[Entry]:
    """Enter every agent whose automation allows one more entry now (one entry per agent per
    call; an agent already waiting in its space is left alone). Each entry is its own
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
        if Entry.objects.filter(agent=agent, space=space, status=Entry.Status.QUEUED).exists():
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
