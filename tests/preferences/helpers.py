"""Helpers of the preference tests: settle a match in one call, read an export back."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

from agents.inference.scripted import use_script
from arena.models import Match
from arena.services.entries import entry_create
from arena.services.matches import match_judge, match_rollout, match_settle
from tests.arena.helpers import sum_answer


def form(space, tier, owners, agent_factory, agents=None) -> Match:
    """One agent per owner enters (fresh keys, so a space can hold many matches)."""
    agents = agents or [agent_factory(owner) for owner in owners]
    for agent in agents:
        entry, _ = entry_create(
            agent=agent, space=space, fee_tier=tier, key=f"pref:{uuid.uuid4().hex}"
        )
    return Match.objects.get(pk=entry.match_id)


def settle(space, tier, owners, agent_factory, *, script=sum_answer, agents=None, before=None):
    """Form a match and run it to settled with the scripted answers; ``before(match)`` runs
    between judging and settlement."""
    match = form(space, tier, owners, agent_factory, agents)
    with use_script(script):
        assert match_rollout(match_id=match.pk)
        assert match_judge(match_id=match.pk)
        if before is not None:
            before(match)
        assert match_settle(match_id=match.pk)
    match.refresh_from_db()
    assert match.status == "settled", match.failure_reason
    return match


def right(request, index: int) -> str:
    """Every seat answers "What is a + b?" correctly: a tie."""
    return sum_answer(request, 0)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merkle(leaves_hex: list[str]) -> str:
    """The manifest's Merkle root, written independently of preferences.provenance: pair left
    to right, promote an odd last node, until one is left."""
    nodes = [bytes.fromhex(h) for h in leaves_hex]
    if not nodes:
        return hashlib.sha256(b"").hexdigest()
    while len(nodes) > 1:
        nxt = []
        for i in range(0, len(nodes), 2):
            pair = nodes[i : i + 2]
            nxt.append(hashlib.sha256(pair[0] + pair[1]).digest() if len(pair) == 2 else pair[0])
        nodes = nxt
    return nodes[0].hex()
