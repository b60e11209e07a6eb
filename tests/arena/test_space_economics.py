"""A space's economics while players are in it under the current ones: waiting entries and
unfinished matches (reported by arena through spaces.hooks) make a creator's change wait for the
notice period even in a paused space; it is saved as pending and the space keeps its values until
it falls due, so nobody is paid under rules they did not enter under. A fee tier removed by such a
change gives the entries still waiting in it their fees back, and takes no new entries."""

from __future__ import annotations

import pytest

from arena.models import Entry, Match
from arena.services.entries import entry_create, entry_leave
from arena.services.errors import ArenaError
from spaces.models import FeeTier, Space
from spaces.services import (
    apply_due_changes,
    fee_tier_delete,
    fee_tier_update,
    space_set_status,
    space_update,
)
from tests.arena.conftest import balance
from tests.arena.helpers import audit_ok, form_match

pytestmark = pytest.mark.django_db

DAY = 86400


@pytest.fixture(autouse=True)
def one_day_notice(settings):
    settings.ARENA_ECONOMICS_NOTICE_S = DAY


def stored(space: Space) -> Space:
    return Space.objects.get(pk=space.pk)


def test_it_schedules_economics_changes_while_an_entry_waits(
    carol, players, space, tier, agent_factory
):
    alice = players[0]
    entry, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="wait")
    space = space_set_status(space=space, status="paused")

    rake = space_update(space=space, actor=carol, creator_rake_bps=2000).economics_change
    fee = fee_tier_update(tier=tier, name=tier.name, fee=1, actor=carol).economics_change
    assert (rake.status, fee.status) == ("pending", "pending")
    tier.refresh_from_db()
    assert (stored(space).creator_rake_bps, tier.fee) == (500, 100)

    # The entry leaving does not bring an announced change forward: it waits for its date.
    entry_leave(entry=entry)
    assert balance(alice) == 10_000
    apply_due_changes(space, now=rake.effective_at - (rake.effective_at - rake.announced_at) / 2)
    rake.refresh_from_db()
    assert (rake.status, stored(space).creator_rake_bps) == ("pending", 500)
    # With nobody in the space, a new change applies at once.
    assert space_update(space=space, actor=carol, subsidy=5).economics_change.status == "applied"
    assert stored(space).subsidy == 5

    apply_due_changes(space, now=fee.effective_at)  # announced last, so due last
    rake.refresh_from_db()
    fee.refresh_from_db()
    tier.refresh_from_db()
    assert (rake.status, fee.status) == ("applied", "applied")
    assert (stored(space).creator_rake_bps, tier.fee) == (2000, 1)


def test_a_waiting_entry_keeps_the_fee_it_paid_when_a_fee_change_applies(
    carol, players, space, tier, agent_factory
):
    alice = players[0]
    entry, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="wait")
    change = fee_tier_update(tier=tier, name=tier.name, fee=40, actor=carol).economics_change
    assert change.status == "pending"
    apply_due_changes(space, now=change.effective_at)
    tier.refresh_from_db()
    entry.refresh_from_db()
    assert (tier.fee, entry.fee, entry.status) == (40, 100, Entry.Status.QUEUED)
    entry_leave(entry=entry)
    assert balance(alice) == 10_000  # the 100 it paid, not the new 40
    assert audit_ok()


def test_a_notice_of_zero_applies_at_once_while_an_entry_waits(
    settings, carol, players, space, tier, agent_factory
):
    settings.ARENA_ECONOMICS_NOTICE_S = 0
    entry_create(agent=agent_factory(players[0]), space=space, fee_tier=tier, key="wait")
    updated = space_update(space=space, actor=carol, creator_rake_bps=2000)
    assert updated.economics_change.status == "applied"
    assert stored(space).creator_rake_bps == 2000


def test_it_schedules_economics_changes_while_a_match_runs(
    carol, players, space, tier, agent_factory
):
    match = form_match(space, tier, players[:2], agent_factory)
    space = space_set_status(space=space, status="paused")
    change = space_update(space=space, actor=carol, payout_shares=["1"]).economics_change
    assert change.status == "pending"
    assert stored(space).payout_shares == ["0.7", "0.3"]

    Match.objects.filter(pk=match.pk).update(status=Match.Status.CANCELLED)
    # Nothing runs now: another field changes at once, the announced one still waits.
    assert (
        space_update(space=space, actor=carol, creator_rake_bps=700).economics_change.status
        == "applied"
    )
    assert stored(space).payout_shares == ["0.7", "0.3"]
    apply_due_changes(space, now=change.effective_at)
    change.refresh_from_db()
    assert change.status == "applied"
    assert (stored(space).payout_shares, stored(space).creator_rake_bps) == (["1"], 700)


def test_a_removed_tier_returns_waiting_fees_and_takes_no_new_entries(
    carol, players, space, tier, agent_factory
):
    """The refund is arena's own hook (``entries_return_on_tier_removed``, registered on
    ``spaces.hooks.register_on_fee_tier_removed``), run when the removal falls due."""
    alice, bob, _ = players
    waiting, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="w")
    assert balance(alice) == 10_000 - 100

    removal = fee_tier_delete(tier=tier, actor=carol)
    assert removal.status == "pending"
    waiting.refresh_from_db()
    assert waiting.status == Entry.Status.QUEUED  # announced only: nothing moves yet

    apply_due_changes(space, now=removal.effective_at)
    removal.refresh_from_db()
    assert removal.status == "applied"
    waiting.refresh_from_db()
    assert waiting.status == Entry.Status.LEFT and balance(alice) == 10_000
    retired = FeeTier.objects.get(pk=tier.pk)
    assert retired.retired_at is not None  # kept: an entry used it

    with pytest.raises(ArenaError, match="fee tier 'standard' was removed from space 'math'"):
        entry_create(agent=agent_factory(bob), space=space, fee_tier=retired, key="late")
    assert balance(bob) == 10_000
    assert not Entry.objects.filter(owner=bob).exists()
    # The space's other tiers still take entries.
    free = space.fee_tiers.get(name="free")
    entry, created = entry_create(agent=agent_factory(bob), space=space, fee_tier=free, key="f")
    assert created and entry.status == Entry.Status.QUEUED
    assert audit_ok()
