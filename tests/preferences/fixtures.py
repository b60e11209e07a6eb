"""Fixtures with data: a space of settled matches and their pairs."""

from __future__ import annotations

import pytest

from preferences.services import gate_update
from tests.arena.conftest import make_space
from tests.preferences.helpers import settle


@pytest.fixture
def pairs_space(carol, players, agent_factory):
    """A three-seat space with two settled matches: four kept pairs (seat 0 right, seats 1 and
    2 wrong and tied) and six battles. Alice's agent has a system prompt."""
    trio = make_space(carol, slug="trio", n=3, shares=("0.5", "0.3", "0.2"))
    gate_update(space=trio, drop_duplicates=False)  # both matches may draw the same prompt
    tier = trio.fee_tiers.get(name="standard")
    alice, bob, dave = players
    scout = agent_factory(alice, name="scout", system_prompt="Answer with a number only.")
    others = [agent_factory(bob, name="bolt"), agent_factory(dave, name="dash")]
    settle(trio, tier, players, agent_factory, agents=[scout, *others])
    settle(trio, tier, players, agent_factory, agents=[scout, *others])
    trio.scout = scout
    return trio
