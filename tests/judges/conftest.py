"""Fixtures for the judges tests: a space and agents of distinct owners."""

from __future__ import annotations

import itertools

import pytest

from agents.models import Agent, BaseModel
from spaces.economics import PLATFORM
from spaces.services import space_create
from tests.conftest import persona

_names = itertools.count(1)


@pytest.fixture
def space(carol):
    return space_create(
        creator=carol,
        actor=PLATFORM,
        slug="math",
        title="Math",
        task_kind="verifiable",
        rules={"answer_format": "number"},
        payout_shares=["1"],
        judge_panel=[{"kind": "verifier", "mode": "numeric"}],
        fee_tiers=[("free", 0)],
    )


@pytest.fixture
def other_space(carol):
    return space_create(
        creator=carol,
        actor=PLATFORM,
        slug="poems",
        title="Poems",
        payout_shares=["1"],
        judge_panel=[{"kind": "pairwise-llm"}],
        fee_tiers=[("free", 0)],
    )


@pytest.fixture
def make_agent(db, django_user_model):
    base = BaseModel.objects.create(name="tiny-test", path="/nonexistent/tiny")

    def make(name: str | None = None):
        n = next(_names)
        owner = persona(django_user_model, f"owner{n}", f"o{n}@example.com", "pw")
        return Agent.objects.create(
            owner=owner,
            base_model=base,
            name=name or f"agent-{n}",
            target_modules=["q_proj", "v_proj"],
        )

    return make
