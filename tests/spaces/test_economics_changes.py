# ruff: noqa: F811  (the match-loop fixtures are imported from tests/arena/conftest.py)
"""Economics changes with a notice period: a change to a space players are in is announced in its
public change log and takes effect later, for matches formed from then on; a space nobody is in
changes at once (logged as applied). Matches are played through the real services with the
scripted backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.inference.scripted import use_script
from arena.models import Match
from arena.services.entries import entry_create
from arena.services.matches import match_run_inline
from spaces import tasks
from spaces.economics import PLATFORM, space_check_economics
from spaces.errors import SpaceError
from spaces.models import EconomicsChange, FeeTier, Space
from spaces.selectors import change_lines
from spaces.services import (
    apply_due_changes,
    economics_change_withdraw,
    fee_tier_create,
    fee_tier_delete,
    fee_tier_update,
    space_set_status,
    space_update,
)
from tests.arena.conftest import (  # noqa: F401  (fixtures)
    agent_factory,
    balance,
    base_model,
    dave,
    no_broker,
    players,
    scripted_backend,
    space,
    tier,
)
from tests.arena.helpers import audit_ok, form_match, sum_answer

pytestmark = pytest.mark.django_db

DAY = 86400


@pytest.fixture(autouse=True)
def one_day_notice(settings):
    settings.ARENA_ECONOMICS_NOTICE_S = DAY


def later(hours: float):
    return timezone.now() + timedelta(hours=hours)


def stored(space) -> Space:
    return Space.objects.get(pk=space.pk)


def test_a_change_to_an_open_space_is_announced_and_waits(carol, space):
    before = timezone.now()
    updated = space_update(space=space, actor=carol, creator_rake_bps=700, reason="hosting costs")
    change = updated.economics_change
    assert change.status == "pending" and change.author == carol
    assert change.fields == {"creator_rake_bps": {"before": 500, "after": 700}}
    assert change.reason == "hosting costs"
    assert timedelta(seconds=DAY) <= change.effective_at - before < timedelta(seconds=DAY + 60)
    assert updated.creator_rake_bps == 500 and stored(space).creator_rake_bps == 500
    assert change_lines(change) == ["creator rake 5% -> 7%"]


def test_the_form_check_says_when_a_change_takes_effect(carol, space):
    proposed = stored(space)
    proposed.payout_shares = ["1"]
    when = space_check_economics(space=proposed, actor=carol)
    assert when is not None and when > later(23.9)
    proposed = stored(space)
    proposed.title = "Only the title"
    assert space_check_economics(space=proposed, actor=carol) is None


def test_a_space_nobody_is_in_changes_at_once_and_logs_it(carol, space):
    paused = space_set_status(space=space, status="paused")
    updated = space_update(space=paused, actor=carol, payout_shares=["0.6", "0.4"])
    assert stored(space).payout_shares == ["0.6", "0.4"]
    change = updated.economics_change
    assert change.status == "applied" and change.applied_at is not None
    assert change_lines(change) == ["1st place share 70% -> 60%", "2nd place share 30% -> 40%"]


def test_a_notice_of_zero_applies_at_once(carol, space, settings):
    settings.ARENA_ECONOMICS_NOTICE_S = 0
    space_update(space=space, actor=carol, subsidy=20)
    assert stored(space).subsidy == 20
    assert EconomicsChange.objects.get().status == "applied"


def test_only_staff_set_the_platform_rake(carol, staff, space):
    with pytest.raises(SpaceError) as refused:
        space_update(space=space, actor=carol, platform_rake_bps=100)
    assert refused.value.field_errors == {
        "platform_rake_bps": ["only platform staff set the platform rake"]
    }
    assert not EconomicsChange.objects.exists()
    change = space_update(space=space, actor=staff, platform_rake_bps=100).economics_change
    assert change.status == "pending" and change_lines(change) == ["platform rake 5% -> 1%"]
    change = space_update(space=space, actor=PLATFORM, subsidy=5).economics_change
    assert change.author is None  # the platform itself


def test_a_match_formed_before_the_change_settles_on_the_old_terms(
    carol, players, space, tier, agent_factory
):
    alice, bob, _ = players
    space_update(space=space, actor=carol, payout_shares=["1"], creator_rake_bps=0)
    old = form_match(space, tier, [alice, bob], agent_factory)

    assert tasks.apply_economics_changes() == 0  # not due yet
    # The beat task, a day and an hour later (the services take the time as an argument).
    from spaces.services import apply_all_due_changes

    assert apply_all_due_changes(now=later(25)) == 1
    assert stored(space).payout_shares == ["1"] and stored(space).creator_rake_bps == 0
    new = form_match(space, tier, [alice, bob], agent_factory)

    with use_script(sum_answer):
        old = match_run_inline(match_id=old.pk)
        new = match_run_inline(match_id=new.pk)
    assert old.status == new.status == "settled"
    # old: pot 200, rakes 5% + 5%, pool 180 -> 126 / 54
    assert dict(old.seats.values_list("owner__username", "payout")) == {"alice": 126, "bob": 54}
    assert (old.creator_rake, old.platform_rake) == (10, 10)
    # new: no creator rake, platform 5%, pool 190 all to the winner
    assert dict(new.seats.values_list("owner__username", "payout")) == {"alice": 190, "bob": 0}
    assert (new.creator_rake, new.platform_rake) == (0, 10)
    assert balance(alice) == 10_000 - 200 + 126 + 190
    audit_ok()


def test_applying_twice_applies_once(carol, space):
    change = space_update(space=space, actor=carol, subsidy=30).economics_change
    apply_due_changes(space, now=later(25))
    change.refresh_from_db()
    applied_at = change.applied_at
    assert change.status == "applied" and stored(space).subsidy == 30
    space_update(space=stored(space), actor=PLATFORM, title="Renamed")
    apply_due_changes(space, now=later(26))
    change.refresh_from_db()
    assert change.applied_at == applied_at and EconomicsChange.objects.count() == 1


def test_a_pending_change_can_be_withdrawn_by_its_author_or_staff(carol, staff, mallory, space):
    change = space_update(space=space, actor=carol, subsidy=30).economics_change
    with pytest.raises(SpaceError, match="author or platform staff"):
        economics_change_withdraw(change=change, actor=mallory)
    change = economics_change_withdraw(change=change, actor=carol)
    assert change.status == "withdrawn" and change.note == "withdrawn by carol"
    apply_due_changes(space, now=later(25))
    assert stored(space).subsidy == 0

    other = space_update(space=space, actor=carol, subsidy=40).economics_change
    assert economics_change_withdraw(change=other, actor=staff).status == "withdrawn"
    with pytest.raises(SpaceError, match="only a pending change"):
        economics_change_withdraw(change=other, actor=staff)


def test_a_second_change_of_a_pending_field_is_refused(carol, space):
    first = space_update(space=space, actor=carol, creator_rake_bps=700).economics_change
    with pytest.raises(SpaceError) as refused:
        space_update(space=space, actor=carol, creator_rake_bps=900, title="New title")
    assert "already announced" in refused.value.field_errors["creator_rake_bps"][0]
    assert stored(space).title == "Math"  # nothing changed
    assert list(EconomicsChange.objects.values_list("pk", flat=True)) == [first.pk]
    # Another field is fine; both are checked together as they will stand.
    space_update(space=space, actor=carol, subsidy=10)
    with pytest.raises(SpaceError, match="at most 5000 bps"):
        space_update(space=space, actor=PLATFORM, platform_rake_bps=4500)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"creator_rake_bps": 6000}, "creator_rake_bps"),
        ({"payout_shares": ["0.5"]}, "payout_shares"),
        ({"subsidy": -1}, "subsidy"),
    ],
)
def test_bad_input_changes_nothing(carol, space, change, field):
    with pytest.raises(SpaceError) as refused:
        space_update(space=space, actor=carol, **change)
    assert field in refused.value.field_errors
    assert not EconomicsChange.objects.exists()
    assert stored(space).creator_rake_bps == 500 and stored(space).payout_shares == ["0.7", "0.3"]


def test_a_fee_change_applies_to_entries_made_after_it(carol, players, space, tier, agent_factory):
    alice, bob, dave = players
    changed = fee_tier_update(tier=tier, name="standard", fee=150, actor=carol)
    assert changed.fee == 100 and changed.economics_change.status == "pending"
    assert change_lines(changed.economics_change) == [
        "fee tier standard: fee 100 credits -> 150 credits"
    ]
    waiting, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a")
    apply_due_changes(space, now=later(25))
    assert FeeTier.objects.get(pk=tier.pk).fee == 150
    entry_create(agent=agent_factory(bob), space=space, fee_tier=tier, key="b")
    waiting.refresh_from_db()
    match = Match.objects.get(pk=waiting.match_id)
    assert waiting.fee == 100 and match.fees == 250  # each pays what it paid when it entered
    assert balance(alice) == 10_000 - 100 and balance(bob) == 10_000 - 150


def test_tiers_are_added_and_removed_after_the_notice(carol, space, tier):
    added = fee_tier_create(space=space, name="high", fee=500, actor=carol)
    assert added.pk is None and change_lines(added.economics_change) == [
        "new fee tier: high, 500 credits"
    ]
    with pytest.raises(SpaceError, match="already announced"):
        fee_tier_delete(tier=tier, actor=carol)
    apply_due_changes(space, now=later(25))
    assert space.fee_tiers.filter(name="high", fee=500).exists()

    removal = fee_tier_delete(tier=tier, actor=carol)
    assert removal.status == "pending" and FeeTier.objects.filter(pk=tier.pk).exists()
    assert change_lines(removal) == ["fee tier standard (100 credits) removed"]
    apply_due_changes(space, now=later(50))
    assert not FeeTier.objects.filter(pk=tier.pk).exists()  # never used: deleted


def test_a_change_that_no_longer_fits_is_withdrawn_when_due(carol, space):
    # Three shares need three agents per match: announced for 3, then the space goes back to 2.
    space_update(space=space, actor=carol, agents_per_match=3)
    change = space_update(space=stored(space), actor=carol, payout_shares=["0.5", "0.3", "0.2"])
    space_update(space=stored(space), actor=carol, agents_per_match=2)
    apply_due_changes(space, now=later(25))
    change = EconomicsChange.objects.get(pk=change.economics_change.pk)
    assert change.status == "withdrawn" and "could not take effect" in change.note
    assert stored(space).payout_shares == ["0.7", "0.3"]


def test_the_change_log_is_public_in_the_api(client, carol, space):
    space_update(space=space, actor=carol, creator_rake_bps=700, reason="costs")
    fee_tier_create(space=space, name="high", fee=50, actor=carol)
    response = client.get(f"/api/v1/spaces/{space.slug}/changes/")
    assert response.status_code == 200
    first, second = response.json()
    assert first["lines"] == ["creator rake 5% -> 7%"] and first["status"] == "pending"
    assert first["changes"] == {"creator_rake_bps": {"before": 500, "after": 700}}
    assert first["author"] == "carol" and first["reason"] == "costs"
    assert second["fee_tiers"][0]["op"] == "add" and second["fee_tiers"][0]["fee"] == 50
    assert client.get("/api/v1/spaces/nope/changes/").status_code == 404
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/spaces/{slug}/changes/" in schema["paths"]


def test_removing_a_used_tier_returns_waiting_fees_and_retires_it(
    carol, players, space, tier, agent_factory
):
    """The waiting entries' refund is arena's (``hooks.register_on_fee_tier_removed``); here a
    callback stands in for it and records what it was given."""
    from arena.services.entries import entry_leave
    from spaces.hooks import register_on_fee_tier_removed, unregister_on_fee_tier_removed

    alice, bob, _ = players
    form_match(space, tier, [alice, bob], agent_factory)  # the tier has history
    waiting, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="w")
    removal = fee_tier_delete(tier=tier, actor=carol)
    assert removal.status == "pending"

    removed = []

    def refund(removed_tier):
        removed.append(removed_tier.pk)
        for entry in removed_tier.entries.filter(status="queued"):
            entry_leave(entry=entry)

    register_on_fee_tier_removed(refund)
    try:
        apply_due_changes(space, now=later(25))
    finally:
        unregister_on_fee_tier_removed(refund)
    assert removed == [tier.pk]
    waiting.refresh_from_db()
    assert waiting.status == "left" and balance(alice) == 10_000 - 100
    assert FeeTier.objects.get(pk=tier.pk).retired_at is not None  # kept for its history
