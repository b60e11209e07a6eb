"""Spaces fixtures: creator permissions granted, a second creator (dave), ready-made spaces."""

from __future__ import annotations

import pytest

from arena.services.accounts import user_make_creator
from spaces.economics import PLATFORM
from spaces.models import Space
from spaces.permissions import grant_creator_permissions
from spaces.services import space_create
from tests.conftest import persona

MATH_PANEL = [{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}]
LLM_PANEL = [{"kind": "pairwise-llm"}]


@pytest.fixture(autouse=True)
def creator_permissions(db):
    grant_creator_permissions()


@pytest.fixture
def dave(django_user_model):
    """A second space creator: carol must never see dave's spaces, nor he hers."""
    user = persona(django_user_model, "dave", "dave@example.com", "dave-pass-123")
    user_make_creator(user=user)
    return user


def make_space(creator, slug: str = "math", **overrides) -> Space:
    fields = dict(
        title=slug.title(),
        task_kind="verifiable",
        rules={"answer_format": "number", "max_new_tokens_cap": 64},
        agents_per_match=4,
        payout_shares=["0.6", "0.3", "0.1"],
        creator_rake_bps=500,
        platform_rake_bps=500,
        judge_panel=MATH_PANEL,
        fee_tiers=[("free", 0), ("pro", 100)],
    )
    fields.update(overrides)
    return space_create(creator=creator, slug=slug, actor=PLATFORM, **fields)


@pytest.fixture
def math_space(carol) -> Space:
    return make_space(carol, "math")


@pytest.fixture
def writing_space(carol) -> Space:
    return make_space(
        carol,
        "tweets",
        task_kind="open",
        rules={"answer_format": "free", "max_chars": 280},
        judge_panel=LLM_PANEL,
        payout_shares=["1"],
        agents_per_match=2,
    )


@pytest.fixture
def code_space(carol) -> Space:
    """A space whose prompts carry tests, for a verifier in mode tests."""
    return make_space(
        carol,
        "code",
        rules={"answer_format": "free"},
        judge_panel=[{"kind": "verifier", "mode": "tests"}],
        payout_shares=["1"],
    )
