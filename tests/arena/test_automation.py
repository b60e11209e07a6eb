"""Agents entering by themselves, within their match count and budget; the periodic
matchmaker and the task wrappers."""

from datetime import timedelta

from django.utils import timezone

from arena import tasks
from arena.models import Entry, Match
from arena.services.automation import auto_enter_agents
from arena.services.matchmaking import matchmake_all
from tests.arena.conftest import balance


def test_it_enters_automated_agents_within_their_limits(players, space, tier, agent_factory):
    alice, bob, _ = players
    auto = agent_factory(
        alice, auto_enter_space=space, auto_fee_tier=tier, auto_max_matches=2, auto_budget=150
    )
    manual = agent_factory(bob)
    made = auto_enter_agents()
    assert [e.agent_id for e in made] == [auto.pk]
    assert made[0].automatic and made[0].fee == 100 and balance(alice) == 9_900
    # Already waiting: no second entry.
    assert auto_enter_agents() == []
    auto.refresh_from_db()
    assert (auto.auto_matches_entered, auto.auto_budget) == (1, 50)
    assert not Entry.objects.filter(agent=manual).exists()


def test_it_stops_at_the_budget_and_the_match_count(players, space, tier, agent_factory):
    alice, bob, _ = players
    auto = agent_factory(
        alice, auto_enter_space=space, auto_fee_tier=tier, auto_max_matches=5, auto_budget=150
    )
    agent_factory(
        bob, auto_enter_space=space, auto_fee_tier=tier, auto_max_matches=1, auto_budget=1_000
    )
    first = auto_enter_agents()  # both enter; the second entry forms a match
    assert len(first) == 2 and Match.objects.count() == 1
    # alice's agent has 50 credits of budget left, bob's agent used its one match.
    assert auto_enter_agents() == []
    auto.refresh_from_db()
    assert auto.auto_budget == 50
    assert Entry.objects.filter(automatic=True).count() == 2


def test_it_skips_an_owner_who_cannot_pay_and_counts_nothing(
    players, mallory, space, tier, agent_factory
):
    broke = agent_factory(
        mallory, auto_enter_space=space, auto_fee_tier=tier, auto_max_matches=3, auto_budget=1_000
    )
    assert auto_enter_agents() == []
    broke.refresh_from_db()
    assert (broke.auto_matches_entered, broke.auto_budget) == (0, 1_000)


def test_it_matches_waiting_entries_periodically_as_windows_widen(
    players, space, tier, agent_factory
):
    from judges.models import Rating

    alice, bob, _ = players
    a, b = agent_factory(alice), agent_factory(bob)
    Rating.objects.create(agent=a, space=space, mu=45, sigma=1)
    Rating.objects.create(agent=b, space=space, mu=10, sigma=1)
    from arena.services.entries import entry_create

    entry_create(agent=a, space=space, fee_tier=tier, key="a")
    entry_create(agent=b, space=space, fee_tier=tier, key="b")
    assert tasks.matchmake() == []
    assert len(matchmake_all(now=timezone.now() + timedelta(minutes=30))) == 1


def test_it_enters_an_agent_again_only_once_its_match_has_finished(
    players, space, tier, agent_factory
):
    """A machine slower than the beat must not pile up formed matches: an automated agent whose
    match is still unplayed is not entered again; once that match ends, it is."""
    alice, bob, _ = players
    limits = {"auto_enter_space": space, "auto_fee_tier": tier}
    autos = [
        agent_factory(owner, auto_max_matches=5, auto_budget=1_000, **limits)
        for owner in (alice, bob)
    ]
    assert len(auto_enter_agents()) == 2
    match = Match.objects.get()
    for status in (Match.Status.FORMED, Match.Status.ROLLING_OUT, Match.Status.SETTLING):
        Match.objects.filter(pk=match.pk).update(status=status)
        assert auto_enter_agents() == [], status
    assert Match.objects.count() == 1
    Match.objects.filter(pk=match.pk).update(status=Match.Status.SETTLED)
    again = auto_enter_agents()
    assert sorted(e.agent_id for e in again) == sorted(a.pk for a in autos)
    assert Match.objects.count() == 2
