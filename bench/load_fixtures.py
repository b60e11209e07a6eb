"""The arena the load benches play in (``load_api.py``, ``ws_fanout.py``), made through the
project's services inside a bench's child process (Django set up): a creator's open space of
quick numeric questions judged by the verifier, and players with credits and one agent each.
"""

from __future__ import annotations


def open_bench_space(*, slug: str, title: str, creator_name: str, tier: str, fee: int):
    """A verifier-judged space of two agents a match, a free tier and ``tier`` at ``fee``, ten
    "What is a + 7?" prompts, opened; made by a new creator ``creator_name``."""
    from django.contrib.auth import get_user_model

    from agents.model_store import ensure_default_base_model
    from arena.services.accounts import user_make_creator
    from spaces.economics import PLATFORM
    from spaces.services import prompt_create, space_create, space_set_status

    ensure_default_base_model()  # agents need a base model; their adapters are built from it
    # No password: bench users sign in by token only (and no PBKDF2 hash per user).
    creator = get_user_model().objects.create_user(creator_name, password=None)
    user_make_creator(user=creator)
    space = space_create(
        creator=creator,
        actor=PLATFORM,
        slug=slug,
        title=title,
        task_kind="verifiable",
        rules={"answer_format": "number", "max_new_tokens_cap": 16},
        judge_panel=[{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}],
        payout_shares=["0.7", "0.3"],
        agents_per_match=2,
        creator_rake_bps=300,
        platform_rake_bps=200,
        heldout_fraction="0",
        fee_tiers=[("free", 0), (tier, fee)],
    )
    for a in range(2, 12):
        prompt_create(space=space, text=f"What is {a} + 7?", reference=str(a + 7), split="train")
    space_set_status(space=space, status="open")
    return space


def bench_player(*, prefix: str, index: int, grant: int):
    """Player ``<prefix>-<index>`` with ``grant`` credits and one agent; (user, agent)."""
    from django.contrib.auth import get_user_model

    from agents.services import agent_create
    from ledger import services as ledger

    user = get_user_model().objects.create_user(f"{prefix}-{index:03d}", password=None)
    ledger.grant(user=user, amount=grant, key=f"{prefix}:grant:{index}", memo=f"{prefix} bench")
    agent = agent_create(owner=user, name=f"{prefix}-agent-{index:03d}", seed=index)
    return user, agent
