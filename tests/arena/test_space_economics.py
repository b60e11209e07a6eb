"""A space's creator cannot change its economics while players are in it under the current ones:
waiting entries and unfinished matches (reported by arena through spaces.hooks) keep them fixed
even in a paused space, so nobody is paid under rules they did not enter under."""

from __future__ import annotations

import pytest

from arena.models import Match
from arena.services.entries import entry_create, entry_leave
from spaces.errors import SpaceError
from spaces.services import fee_tier_update, space_set_status, space_update
from tests.arena.helpers import form_match

pytestmark = pytest.mark.django_db


def test_it_keeps_the_economics_while_an_entry_waits(carol, players, space, tier, agent_factory):
    alice = players[0]
    entry, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="wait")
    space = space_set_status(space=space, status="paused")

    with pytest.raises(SpaceError) as refused:
        space_update(space=space, actor=carol, creator_rake_bps=2000)
    assert "1 entry waiting" in str(refused.value) and "pause it first" in str(refused.value)
    with pytest.raises(SpaceError, match="1 entry waiting"):
        fee_tier_update(tier=tier, name=tier.name, fee=1, actor=carol)
    space.refresh_from_db()
    tier.refresh_from_db()
    assert (space.creator_rake_bps, tier.fee) == (500, 100)

    entry_leave(entry=entry)
    assert space_update(space=space, actor=carol, creator_rake_bps=2000).creator_rake_bps == 2000
    assert fee_tier_update(tier=tier, name=tier.name, fee=1, actor=carol).fee == 1


def test_it_keeps_the_economics_while_a_match_runs(carol, players, space, tier, agent_factory):
    match = form_match(space, tier, players[:2], agent_factory)
    space = space_set_status(space=space, status="paused")
    with pytest.raises(SpaceError, match="1 match in progress"):
        space_update(space=space, actor=carol, payout_shares=["1"])

    Match.objects.filter(pk=match.pk).update(status=Match.Status.CANCELLED)
    assert space_update(space=space, actor=carol, payout_shares=["1"]).payout_shares == ["1"]
