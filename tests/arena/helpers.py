"""Shared helpers of the match tests."""

from __future__ import annotations

import re
import uuid

from arena.models import Match
from arena.services.entries import entry_create

# The agent form (/agents/new/, /agents/<id>/edit/) filled in with valid values for "Scout".
AGENT_FORM = {
    "name": "Scout",
    "system_prompt": "Be brief.",
    "temperature": "0.5",
    "top_p": "0.9",
    "top_k": "40",
    "max_new_tokens": "32",
    "repetition_penalty": "1.1",
    "lora_rank": "4",
    "lora_alpha": "8",
    "lora_dropout": "0.05",
    "target_modules": '["q_proj", "v_proj"]',
    "learning_rate": "0.0001",
    "dpo_beta": "0.1",
    "epochs": "1",
    "batch_size": "2",
    "auto_max_matches": "0",
    "auto_budget": "0",
}


def sum_answer(request, index: int) -> str:
    """Scripted answers for "What is a + b?": seat 0 right, seat k off by k."""
    a, b = map(int, re.findall(r"\d+", request.messages[-1]["content"])[:2])
    return str(a + b + index)


def form_match(space, tier, owners, agent_factory) -> Match:
    """One agent per owner enters; the last entry forms the match."""
    for i, owner in enumerate(owners):
        entry, _ = entry_create(
            agent=agent_factory(owner),
            space=space,
            fee_tier=tier,
            key=f"form:{space.slug}:{i}:{owner.pk}:{uuid.uuid4().hex[:8]}",
        )
    return Match.objects.get(pk=entry.match_id)


def audit_ok() -> bool:
    from ledger.selectors import audit_ledger

    report = audit_ledger()
    assert report["ok"], report["problems"]
    return True


def make_code_space(creator, *, slug: str, tests: list[str], rake_bps: int = 500, fee: int = 100):
    """An open verifiable space whose one train prompt ("write add(a, b)") carries ``tests``,
    judged by the verifier in mode tests."""
    from spaces.economics import PLATFORM
    from spaces.services import prompt_create, space_create, space_set_status

    space = space_create(
        creator=creator,
        actor=PLATFORM,
        slug=slug,
        title="Python add",
        task_kind="verifiable",
        judge_panel=[{"kind": "verifier", "mode": "tests", "timeout_s": 2}],
        payout_shares=["0.7", "0.3"],
        creator_rake_bps=rake_bps,
        platform_rake_bps=rake_bps,
        rules={"answer_format": "free", "max_new_tokens_cap": 64},
        heldout_fraction="0",
        fee_tiers=[("free", 0), ("standard", fee)],
    )
    prompt_create(
        space=space, text="Write a Python function add(a, b) that returns the sum.", tests=tests
    )
    return space_set_status(space=space, status="open")


def local_agent(owner, *, name: str, seed: int, tmp_path, **fields):
    """An agent of the default model whose adapter really changes its output (random LoRA B,
    seeded), for tests that run the local backend."""
    from agents.services import adapter_version_create, agent_create
    from tests.agents.conftest import perturb_adapter

    agent = agent_create(
        owner=owner, name=name, seed=seed, target_modules=["q_proj", "v_proj"], **fields
    )
    out = perturb_adapter(
        agent.current_adapter.directory, tmp_path / f"a{seed}", seed=seed, scale=0.3
    )
    adapter_version_create(agent=agent, source_dir=out, created_by="test")
    agent.refresh_from_db()
    return agent
