"""Entering a space: the fee goes into escrow, leaving returns it, keys make retries safe."""

import pytest

from arena.models import Entry
from arena.services.entries import entry_create, entry_leave
from arena.services.errors import ArenaError, NotAllowed
from ledger import services as ledger
from ledger.selectors import audit_ledger
from tests.arena.conftest import balance, fund


def test_it_moves_the_fee_into_escrow_and_leaving_returns_it(alice, space, tier, agent_factory):
    fund(alice, 500)
    agent = agent_factory(alice)
    entry, _ = entry_create(agent=agent, space=space, fee_tier=tier, key="k1", user=alice)
    assert entry.status == Entry.Status.QUEUED and entry.fee == 100
    assert balance(alice) == 400
    assert ledger.balance(ledger.escrow_account(entry.escrow_ref)) == 100

    entry_leave(entry=entry, user=alice)
    entry.refresh_from_db()
    assert entry.status == Entry.Status.LEFT
    assert balance(alice) == 500
    assert ledger.balance(ledger.escrow_account(entry.escrow_ref)) == 0
    # Leaving twice is a no-op, not a second refund.
    entry_leave(entry=entry, user=alice)
    assert balance(alice) == 500
    assert audit_ledger()["ok"]


def test_it_makes_one_entry_per_key(alice, space, tier, agent_factory):
    fund(alice, 500)
    agent = agent_factory(alice)
    first, created_first = entry_create(agent=agent, space=space, fee_tier=tier, key="same")
    again, created_again = entry_create(agent=agent, space=space, fee_tier=tier, key="same")
    assert first.pk == again.pk
    assert (created_first, created_again) == (True, False)
    assert Entry.objects.count() == 1
    assert balance(alice) == 400


def test_it_refuses_a_key_reused_for_another_entry(alice, space, tier, agent_factory):
    fund(alice, 500)
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="same")
    with pytest.raises(ArenaError, match="already used"):
        entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="same")
    assert Entry.objects.count() == 1 and balance(alice) == 400


def test_it_refuses_an_entry_the_owner_cannot_pay_and_changes_nothing(
    alice, space, tier, agent_factory
):
    fund(alice, 50)
    with pytest.raises(ArenaError, match="entry fee"):
        entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="k")
    assert Entry.objects.count() == 0
    assert balance(alice) == 50


def test_it_refuses_someone_elses_agent(alice, mallory, space, tier, agent_factory):
    fund(mallory, 500)
    with pytest.raises(NotAllowed):
        entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="k", user=mallory)
    assert Entry.objects.count() == 0


def test_it_refuses_a_second_wait_of_one_agent_and_a_closed_space(
    alice, space, tier, agent_factory
):
    from spaces.services import space_set_status

    fund(alice, 500)
    agent = agent_factory(alice)
    entry_create(agent=agent, space=space, fee_tier=tier, key="a")
    with pytest.raises(ArenaError, match="already waiting"):
        entry_create(agent=agent, space=space, fee_tier=tier, key="b")
    space_set_status(space=space, status="paused")
    with pytest.raises(ArenaError, match="not open"):
        entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="c")
    assert balance(alice) == 400


def test_it_enters_the_free_tier_without_touching_the_ledger(alice, space, agent_factory):
    free = space.fee_tiers.get(name="free")
    entry, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=free, key="f")
    assert entry.fee == 0 and balance(alice) == 0
    entry_leave(entry=entry)
    assert Entry.objects.get().status == Entry.Status.LEFT


def test_closing_a_space_returns_every_waiting_fee_and_leaves_formed_matches_alone(
    players, space, tier, agent_factory
):
    from spaces.services import space_set_status
    from tests.arena.helpers import audit_ok, form_match

    alice, bob, dave = players
    match = form_match(space, tier, [alice, bob], agent_factory)
    waiting, _ = entry_create(agent=agent_factory(dave), space=space, fee_tier=tier, key="dave:1")
    assert waiting.status == Entry.Status.QUEUED and balance(dave) == 10_000 - 100

    space_set_status(space=space, status="closed")

    waiting.refresh_from_db()
    assert waiting.status == Entry.Status.LEFT
    assert balance(dave) == 10_000
    match.refresh_from_db()
    assert match.status == "formed" and balance(alice) == 10_000 - 100
    audit_ok()
