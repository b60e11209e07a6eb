"""A whole match in-process with the scripted backend: the task functions are called directly,
in order, as a worker would call them."""

import pytest

from agents.inference.scripted import use_script
from arena import tasks
from arena.models import Entry, Match
from arena.services.aborts import match_cancel
from arena.services.matches import match_run_inline
from ledger import services as ledger
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match, make_code_space, sum_answer


@pytest.fixture
def match(players, space, tier, agent_factory):
    alice, bob, _ = players
    return form_match(space, tier, [alice, bob], agent_factory)


def test_it_runs_a_match_to_settled_and_pays_by_rank(players, carol, match):
    alice, bob, _ = players
    with use_script(sum_answer):
        assert tasks.rollout_match(match.pk) is True
        match.refresh_from_db()
        assert match.status == "judging"
        seat = match.seats.get(index=0)
        assert seat.text and seat.completion_tokens == 1 and seat.finish_reason == "stop"
        assert seat.generation_settings["max_new_tokens"] == 16  # capped by the space's rule
        assert seat.seed is not None and seat.latency_ms is not None
        assert tasks.judge_match(match.pk) is True
        assert tasks.settle_match(match.pk) is True
    match.refresh_from_db()
    assert match.status == "settled" and match.finished_at is not None
    ranks = dict(match.seats.values_list("owner__username", "rank"))
    assert ranks == {"alice": 1, "bob": 2}
    # pot 200; rakes 5% + 5% = 10 + 10; pool 180 -> 126 (0.7) and 54 (0.3)
    assert (match.pot, match.creator_rake, match.platform_rake) == (200, 10, 10)
    payouts = dict(match.seats.values_list("owner__username", "payout"))
    assert payouts == {"alice": 126, "bob": 54}
    assert sum(payouts.values()) + match.creator_rake + match.platform_rake == match.pot
    assert balance(alice) == 10_000 - 100 + 126
    assert balance(bob) == 10_000 - 100 + 54
    assert ledger.balance(ledger.creator_revenue_account(carol)) == 10
    assert ledger.balance(ledger.system_account("platform_revenue")) == 10
    assert ledger.balance(ledger.escrow_account(match.escrow_ref)) == 0
    assert match.verdicts.count() >= 1
    from judges.models import Rating

    assert Rating.objects.filter(space=match.space).count() == 2
    audit_ok()


def test_it_adds_the_sponsor_subsidy_to_the_pot(players, carol, agent_factory):
    from tests.arena.conftest import make_space

    alice, bob, _ = players
    space = make_space(
        carol, slug="sponsored", subsidy=51, creator_bps=0, platform_bps=0, shares=("1",)
    )
    match = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)
    with use_script(sum_answer):
        match = match_run_inline(match_id=match.pk)
    assert match.status == "settled"
    assert (match.fees, match.subsidy, match.pot) == (200, 51, 251)
    assert balance(alice) == 10_000 - 100 + 251
    audit_ok()


def test_it_does_each_step_once_when_a_task_runs_twice(players, match):
    alice, bob, _ = players
    with use_script(sum_answer):
        assert tasks.rollout_match(match.pk) is True
        assert tasks.rollout_match(match.pk) is False
        assert tasks.judge_match(match.pk) is True
        assert tasks.judge_match(match.pk) is False
        assert tasks.settle_match(match.pk) is True
        assert tasks.settle_match(match.pk) is False
        assert tasks.rollout_match(match.pk) is False
    assert balance(alice) == 10_000 - 100 + 126
    assert match.verdicts.count() == Match.objects.get(pk=match.pk).verdicts.count()
    audit_ok()


def test_it_refuses_a_claim_while_another_worker_holds_the_step(match):
    from arena.services.steps import claim_step, complete_step

    first = claim_step(match_id=match.pk, step="rollout")
    assert first is not None
    assert claim_step(match_id=match.pk, step="rollout") is None
    # A stale claim cannot complete the step.
    assert not complete_step(
        match_id=match.pk, status="rolling_out", claim=first - 1, to_status="judging"
    )


def test_it_cancels_a_match_and_returns_every_fee(players, match):
    alice, bob, _ = players
    assert match_cancel(match_id=match.pk, reason="space closed") is True
    assert match_cancel(match_id=match.pk, reason="again") is False
    match.refresh_from_db()
    assert match.status == "cancelled"
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    assert set(Entry.objects.values_list("status", flat=True)) == {"refunded"}
    # Nothing runs after an abort.
    assert tasks.rollout_match(match.pk) is False
    audit_ok()


def test_it_fails_a_match_whose_rollout_breaks_and_refunds(players, match):
    alice, bob, _ = players

    def broken(request, index):
        raise RuntimeError("GPU on fire")

    with use_script(broken):
        assert tasks.rollout_match(match.pk) is True
    match.refresh_from_db()
    assert match.status == "failed" and "GPU on fire" in match.failure_reason
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


def test_it_fails_a_settlement_that_cannot_pay_and_refunds(players, match):
    """A settlement that raises rolls back whole; the match is then refunded, once."""
    alice, bob, _ = players
    with use_script(sum_answer):
        tasks.rollout_match(match.pk)
        tasks.judge_match(match.pk)
    # Corrupt the ranks so the split cannot be computed.
    match.seats.update(rank=None)
    assert tasks.settle_match(match.pk) is False
    match.refresh_from_db()
    assert match.status == "failed" and "settlement failed" in match.failure_reason
    assert balance(alice) == 10_000 and balance(bob) == 10_000
    audit_ok()


def test_an_answer_that_breaks_the_content_limits_ranks_last(players, carol, agent_factory):
    """Seat 0 is right but uses banned text and seat 2 gives no number: both rank after bob's
    clean (if wrong) answer, in the panel's order among themselves."""
    from tests.arena.conftest import make_space

    alice, bob, dave = players
    space = make_space(
        carol,
        slug="clean-math",
        n=3,
        shares=("0.5", "0.3", "0.2"),
        rules={"answer_format": "number", "banned_substrings": ["trust me"]},
    )
    tier = space.fee_tiers.get(name="standard")
    match = form_match(space, tier, [alice, bob, dave], agent_factory)

    def answers(request, index):
        right = sum_answer(request, 0)
        return [f"{right}, trust me", str(int(right) + 1), "no idea"][index]

    with use_script(answers):
        assert tasks.rollout_match(match.pk) is True
        assert tasks.judge_match(match.pk) is True
        assert tasks.settle_match(match.pk) is True
    seats = {s.index: s for s in match.seats.all()}
    assert "trust me" in seats[0].violation
    assert "number" in seats[2].violation
    assert seats[1].violation == ""
    assert [seats[i].rank for i in range(3)] == [2, 1, 3]
    assert seats[1].payout > seats[0].payout > seats[2].payout
    audit_ok()


def test_the_rollout_asks_the_backend_once_for_all_seats(players, carol, agent_factory):
    """All N answers of a match come from one batched call (the local backend then runs them in
    one generate: tests/agents/test_local_inference.py)."""
    from agents.inference.scripted import ScriptedBackend
    from arena.services.matches import match_rollout
    from tests.arena.conftest import make_space

    class RecordingBackend(ScriptedBackend):
        def __init__(self):
            super().__init__(sum_answer)
            self.calls = []

        def generate(self, requests, **kwargs):
            self.calls.append(requests)
            return super().generate(requests, **kwargs)

    alice, bob, dave = players
    space = make_space(carol, slug="trio", n=3, shares=("0.5", "0.3", "0.2"))
    match = form_match(space, space.fee_tiers.get(name="standard"), players, agent_factory)
    backend = RecordingBackend()
    assert match_rollout(match_id=match.pk, backend=backend) is True
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3
    seeds = [r.seed for r in backend.calls[0]]
    assert seeds == list(match.seats.order_by("index").values_list("seed", flat=True))


def test_a_tests_space_ranks_the_code_that_passes_first_and_pays_it(players, carol, agent_factory):
    """A verifiable space whose prompt carries tests: alice's code passes both, bob's fails both
    (it subtracts), so alice ranks first; the pot is paid by rank like any other match."""
    alice, bob, _ = players
    space = make_code_space(
        carol, slug="py-add", tests=["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
    )
    match = form_match(space, space.fee_tiers.get(name="standard"), [alice, bob], agent_factory)

    def code(request, index):
        body = "return a + b" if index == 0 else "return a - b"
        return f"Here it is:\n```python\ndef add(a, b):\n    {body}\n```"

    with use_script(code):
        assert tasks.rollout_match(match.pk) is True
        assert tasks.judge_match(match.pk) is True
        assert tasks.settle_match(match.pk) is True
    match.refresh_from_db()
    assert match.status == "settled", match.failure_reason
    ranks = dict(match.seats.values_list("owner__username", "rank"))
    assert ranks == {"alice": 1, "bob": 2}
    [verdict] = match.verdicts.all()
    assert verdict.data["points"] == [2, 0] and verdict.data["max_points"] == 2
    results = verdict.data["details"]["answers"]
    assert [r["passed"] for r in results] == [2, 0]
    assert results[1]["tests"][0] == {"passed": False, "reason": "AssertionError", "where": "test"}
    # pot 200; rakes 5% + 5%; pool 180 -> 126 (0.7) and 54 (0.3)
    payouts = dict(match.seats.values_list("owner__username", "payout"))
    assert payouts == {"alice": 126, "bob": 54}
    assert balance(alice) == 10_000 - 100 + 126
    assert balance(bob) == 10_000 - 100 + 54
    audit_ok()
