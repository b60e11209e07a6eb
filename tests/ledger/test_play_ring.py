"""THE RING TEST (issue #10, "money that cannot be farmed").

A ring of free accounts, each with nothing but the starter grant, plays match after match among
itself through the real match path (entry, matchmaking, rollout with the scripted backend,
judging, settlement with a sponsor's subsidy), in the free tier and in a paid tier paid with
play credits; one of them even owns the space and collects its creator rake. However they
play, none of them can withdraw a single credit, and the ledger holds no more withdrawable
credits than before.
"""

from __future__ import annotations

import pytest

from agents.inference.scripted import use_script
from agents.models import BaseModel
from arena.models import Entry, Match
from arena.services import dispatch
from arena.services.accounts import user_register
from arena.services.entries import entry_create
from arena.services.matches import match_run_inline
from arena.services.matchmaking import matchmake
from ledger import services as ledger
from ledger.chain.withdrawals import withdrawal_request
from ledger.errors import InsufficientFunds
from ledger.models import SOURCE_KINDS, Account, Transfer, Withdrawal
from ledger.selectors import audit_ledger
from tests.arena.conftest import make_agent, make_space
from tests.arena.helpers import sum_answer

pytestmark = pytest.mark.django_db

RING = 4
ROUNDS = 2
STARTER = 1000
SUBSIDY = 50
FEE = 100


def withdrawable_supply() -> int:
    """Every withdrawable credit in the ledger: withdrawable accounts, pending withdrawals and
    the withdrawable part of escrows and revenue accounts."""
    return sum(a.withdrawable_part for a in Account.objects.exclude(kind__in=SOURCE_KINDS))


def play_match(space, tier, pair, agents, label: str) -> Match:
    for user in pair:
        entry, _ = entry_create(
            agent=agents[user.pk],
            space=space,
            fee_tier=tier,
            key=f"{label}:{user.pk}",
            matchmake=False,
        )
    # As the ``play`` command does: no rating window, so winners may meet losers at once.
    matchmake(space=space, fee_tier=tier, window_override=float("inf"))
    match_id = Entry.objects.get(pk=entry.pk).match_id
    assert match_id is not None, "the pair did not form a match"
    match = match_run_inline(match_id=match_id)
    assert match.status == Match.Status.SETTLED, match.failure_reason
    return match


def test_a_ring_of_free_accounts_cannot_turn_a_subsidy_into_ether(settings):
    settings.ARENA_INFERENCE_BACKEND = "scripted"
    settings.ARENA_STARTER_GRANT = STARTER
    ring = [user_register(username=f"ring{i}", password="ring-pass-123") for i in range(RING)]
    # The ring's own space, sponsored: every match gets SUBSIDY extra credits from grants.
    space = make_space(ring[0], slug="sponsored", subsidy=SUBSIDY, fee=FEE)
    free, paid = space.fee_tiers.get(fee=0), space.fee_tiers.get(fee=FEE)
    base = BaseModel.objects.create(name="ring-base", path="/nonexistent/ring", is_default=False)
    agents = {user.pk: make_agent(user, base) for user in ring}
    before = withdrawable_supply()
    assert before == 0

    matches = []
    with dispatch.inline(), use_script(sum_answer):
        for round_ in range(ROUNDS):
            order = ring[round_:] + ring[:round_]  # new pairs each round
            for tier in (free, paid):
                for i in range(0, RING, 2):
                    pair = order[i : i + 2]
                    label = f"ring:{round_}:{tier.fee}:{i}"
                    matches.append(play_match(space, tier, pair, agents, label))

    assert len(matches) == ROUNDS * 2 * RING // 2
    assert sum(m.subsidy for m in matches) == SUBSIDY * len(matches)
    # Credits did move: the sponsor's subsidies went out as prizes and rakes, all as play.
    assert Transfer.objects.filter(kind="payout").count() >= len(matches)
    for user in ring:
        have = ledger.user_balances(user)
        assert have.withdrawable == 0, user
        with pytest.raises(InsufficientFunds, match="play credits cannot be withdrawn"):
            withdrawal_request(user=user, to_address="0x" + "ab" * 20, credits=1, key="cash-out")
    assert not Withdrawal.objects.exists()
    revenue = Account.objects.get(pk=ledger.creator_revenue_account(ring[0]).pk)
    assert revenue.balance > 0 and revenue.withdrawable_part == 0
    assert withdrawable_supply() == before
    # Nothing was lost either: the ring and the revenue hold their grants and the subsidies.
    play_total = sum(ledger.user_balances(user).play for user in ring)
    platform = ledger.balance(ledger.system_account("platform_revenue"))
    assert play_total + revenue.balance + platform == RING * STARTER + SUBSIDY * len(matches)
    report = audit_ledger()
    assert report["ok"], report["problems"]
