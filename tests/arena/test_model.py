"""With the real default model (SmolLM2-135M, local backend, real worker processes):
a whole match end to end, and a worker SIGKILLed in the middle of a rollout.

Marked ``model``: they provision the default model (once, into ARENA_MODEL_DIR) and run it on
CPU. Run with ``-m model``; with DATABASE_URL / REDIS_URL set they run in the distributed mode.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from arena import tasks
from arena.models import Entry, Match
from arena.services.reaper import reap_stuck_matches
from arena.services.steps import lease_seconds
from ledger.models import Transfer
from tests.arena.conftest import fund, make_space
from tests.arena.helpers import audit_ok
from tests.arena.workers import start_worker, wait_final, wait_status

pytestmark = pytest.mark.model


@pytest.fixture
def worker_backend():
    """The workers answer with the real default model."""
    return "local"


@pytest.fixture
def real_agents(transactional_db, alice, bob):
    from agents.model_store import ensure_default_base_model
    from agents.services import agent_create

    ensure_default_base_model()
    fund(alice, 1000)
    fund(bob, 1000)
    return [
        agent_create(
            owner=alice,
            name="terse",
            seed=1,
            temperature=0.0,
            max_new_tokens=48,
            system_prompt="Answer with the number only.",
        ),
        agent_create(
            owner=bob,
            name="chatty",
            seed=2,
            temperature=0.8,
            max_new_tokens=48,
            system_prompt="You are a friendly tutor.",
        ),
    ]


def enter_all(agents, space, tier):
    from arena.services.entries import entry_create

    for agent in agents:
        entry, _ = entry_create(agent=agent, space=space, fee_tier=tier, key=f"model:{agent.pk}")
    return Match.objects.get(pk=entry.match_id)


def test_it_runs_a_match_with_the_default_model_through_a_real_worker(
    worker_pool, tmp_path, carol, real_agents
):
    space = make_space(carol, slug="model-math")
    worker_pool.append(start_worker(tmp_path))
    match = enter_all(real_agents, space, space.fee_tiers.get(name="standard"))
    match = wait_final(match.pk, timeout=540)
    assert match.status == "settled", (match.failure_reason, worker_pool[0].log()[-3000:])
    for seat in match.seats.all():
        assert seat.completion_tokens and seat.finish_reason in ("stop", "length")
        assert len(seat.adapter_sha256) == 64 and seat.generation_settings
    assert (
        sum(s.payout for s in match.seats.all()) + match.creator_rake + match.platform_rake
        == match.pot
        == 200
    )
    audit_ok()


def test_it_judges_an_open_space_with_the_model_as_pairwise_judge(
    worker_pool, tmp_path, carol, real_agents
):
    """An open space: no reference, the pairwise-llm judge (the same local model, asked in both
    orders) ranks the answers inside the worker, and the pot is paid by those ranks."""
    from judges.models import Verdict

    panel = [{"kind": "pairwise-llm", "instructions": "Prefer the clearer answer."}]
    space = make_space(
        carol, slug="model-open", task_kind="open", panel=panel, rules={"max_new_tokens_cap": 16}
    )
    worker_pool.append(start_worker(tmp_path))
    match = enter_all(real_agents, space, space.fee_tiers.get(name="standard"))
    match = wait_final(match.pk, timeout=540)
    assert match.status == "settled", (match.failure_reason, worker_pool[0].log()[-3000:])
    verdict = Verdict.objects.get(match=match)
    assert verdict.judge_kind == "pairwise-llm"
    ranks = sorted(match.seats.values_list("rank", flat=True))
    assert ranks in ([1, 1], [1, 2])  # a tie when the two orders disagree
    payouts = [s.payout for s in match.seats.order_by("rank")]
    if ranks == [1, 2]:
        assert payouts[0] > payouts[1]
    else:
        assert abs(payouts[0] - payouts[1]) <= 1
    assert sum(payouts) + match.creator_rake + match.platform_rake == match.pot
    audit_ok()


def test_it_ends_in_one_final_state_after_a_worker_is_killed_mid_rollout(
    worker_pool, tmp_path, carol, real_agents, alice, bob
):
    space = make_space(carol, slug="model-kill")
    first = start_worker(tmp_path)
    worker_pool.append(first)
    match = enter_all(real_agents, space, space.fee_tiers.get(name="standard"))
    wait_status(match.pk, "rolling_out", timeout=120)
    time.sleep(1.0)  # the worker is loading the model or generating
    first.kill()
    match.refresh_from_db()
    assert match.status == "rolling_out" and not match.seats.exclude(rolled_out_at=None).exists()

    done = reap_stuck_matches(now=timezone.now() + timedelta(seconds=lease_seconds() + 60))
    assert (match.pk, "resumed rolling_out") in done
    worker_pool.append(start_worker(tmp_path))
    match = wait_final(match.pk, timeout=540)
    assert match.status in ("settled", "failed")
    # The killed task's message comes back after the broker's visibility timeout (acks_late):
    # deliver it now, as the worker would, and it must change nothing.
    assert tasks.rollout_match(match.pk) is False
    again = Match.objects.get(pk=match.pk)
    assert again.status == match.status and again.claim == match.claim
    if match.status == "settled":
        assert Transfer.objects.filter(key__startswith=f"match:{match.pk}:settle#").exists()
        assert set(Entry.objects.filter(match=match).values_list("status", flat=True)) == {
            "matched"
        }
    else:
        assert set(Entry.objects.filter(match=match).values_list("status", flat=True)) == {
            "refunded"
        }
    audit_ok()
