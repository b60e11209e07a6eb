"""Fixtures of the match-loop tests: a space ready for matches, agents of several players with
credits, the scripted inference backend, and a helper to fund users through the ledger."""

from __future__ import annotations

import itertools

import pytest

from arena.celery import app
from arena.services import dispatch
from tests.conftest import persona

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def scripted_backend(settings):
    # No model in these tests unless marked `model`: the scripted backend answers.
    settings.ARENA_INFERENCE_BACKEND = "scripted"


@pytest.fixture(autouse=True)
def no_broker(request):
    """Steps are driven by the tests (task functions called directly), never queued; except in
    tests with real workers (``worker_pool``), where they go through the broker to them."""
    with dispatch.inline("worker_pool" not in request.fixturenames):
        yield


@pytest.fixture
def worker_backend():
    """The inference backend of the workers of ``worker_pool``."""
    return "scripted"


@pytest.fixture
def worker_pool(transactional_db, monkeypatch, worker_backend):
    """Real Celery worker processes: a test starts them (tests/arena/workers.py) and adds them
    here, to be stopped after it. The queues are purged first."""
    monkeypatch.setenv("ARENA_INFERENCE_BACKEND", worker_backend)
    app.control.purge()
    workers = []
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture
def base_model(db):
    from agents.models import BaseModel

    return BaseModel.objects.create(name="tiny-test", path="/nonexistent/tiny", is_default=False)


def make_agent(owner, base_model, name=None, **fields):
    from agents.models import Agent

    fields.setdefault("target_modules", ["q_proj", "v_proj"])
    return Agent.objects.create(
        owner=owner, base_model=base_model, name=name or f"agent-{next(_counter)}", **fields
    )


@pytest.fixture
def agent_factory(base_model):
    def make(owner, name=None, **fields):
        return make_agent(owner, base_model, name, **fields)

    return make


def fund(user, amount: int) -> None:
    from ledger import services as ledger

    ledger.grant(user=user, amount=amount, key=f"test-grant:{user.pk}:{next(_counter)}")


def balance(user) -> int:
    from ledger import services as ledger

    return ledger.user_balance(user)


def make_space(
    creator,
    slug="math",
    *,
    n=2,
    fee=100,
    shares=("0.7", "0.3"),
    creator_bps=500,
    platform_bps=500,
    subsidy=0,
    prompts=3,
    panel=None,
    task_kind="verifiable",
    rules=None,
):
    from spaces.economics import PLATFORM
    from spaces.services import prompt_create, space_create, space_set_status

    if rules is None:
        rules = (
            {"answer_format": "number", "max_new_tokens_cap": 16}
            if task_kind == "verifiable"
            else {}
        )
    panel = panel or [{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}]
    space = space_create(
        creator=creator,
        actor=PLATFORM,
        slug=slug,
        title=slug.title(),
        task_kind=task_kind,
        judge_panel=panel,
        payout_shares=list(shares),
        agents_per_match=n,
        creator_rake_bps=creator_bps,
        platform_rake_bps=platform_bps,
        subsidy=subsidy,
        rules=rules,
        heldout_fraction="0",
        fee_tiers=[("free", 0), ("standard", fee)],
    )
    for i in range(prompts):
        prompt_create(
            space=space,
            text=f"What is {i} + {i}?",
            reference=str(2 * i) if task_kind == "verifiable" else "",
            split="train",
        )
    return space_set_status(space=space, status="open")


@pytest.fixture
def space(carol):
    return make_space(carol)


@pytest.fixture
def tier(space):
    return space.fee_tiers.get(name="standard")


@pytest.fixture
def dave(django_user_model):
    return persona(django_user_model, "dave", "dave@example.com", "dave-pass-123")


@pytest.fixture
def players(alice, bob, dave):
    for user in (alice, bob, dave):
        fund(user, 10_000)
    return [alice, bob, dave]
