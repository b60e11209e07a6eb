"""Shared helpers of the match tests."""

from __future__ import annotations

import re

from arena.models import Match
from arena.services.entries import entry_create


def sum_answer(request, index: int) -> str:
    """Scripted answers for "What is a + b?": seat 0 right, seat k off by k."""
    a, b = map(int, re.findall(r"\d+", request.messages[-1]["content"])[:2])
    return str(a + b + index)


def form_match(space, tier, owners, agent_factory) -> Match:
    """One agent per owner enters; the last entry forms the match."""
    for i, owner in enumerate(owners):
        entry = entry_create(
            agent=agent_factory(owner),
            space=space,
            fee_tier=tier,
            key=f"form:{space.slug}:{i}:{owner.pk}",
        )
    return Match.objects.get(pk=entry.match_id)


def audit_ok() -> bool:
    from ledger.selectors import audit_ledger

    report = audit_ledger()
    assert report["ok"], report["problems"]
    return True
