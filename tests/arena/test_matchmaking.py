"""Matchmaking: N distinct agents of distinct owners, one fee tier, nearest ratings first,
a rating window that widens with waiting time."""

from datetime import timedelta

from django.utils import timezone

from arena.models import Entry, Match
from arena.services.entries import entry_create
from arena.services.matchmaking import matchmake
from ledger import services as ledger
from tests.arena.conftest import fund, make_space


def rate(agent, space, mu, sigma=1.0):
    from judges.models import Rating

    Rating.objects.update_or_create(
        agent=agent, space=space, defaults={"mu": mu, "sigma": sigma, "matches_played": 5}
    )


def test_it_forms_a_match_when_n_agents_of_distinct_owners_wait(
    players, space, tier, agent_factory
):
    alice, bob, _ = players
    first, _ = entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a")
    assert first.status == Entry.Status.QUEUED and Match.objects.count() == 0
    second, _ = entry_create(agent=agent_factory(bob), space=space, fee_tier=tier, key="b")
    assert second.status == Entry.Status.MATCHED
    match = Match.objects.get()
    assert match.status == "formed" and match.fees == 200
    assert {s.owner_id for s in match.seats.all()} == {alice.pk, bob.pk}
    # Both fees moved from the entries' escrows into the match's.
    assert ledger.balance(ledger.escrow_account(match.escrow_ref)) == 200
    assert ledger.balance(ledger.escrow_account(first.escrow_ref)) == 0


def test_it_never_puts_two_agents_of_one_owner_in_a_match(players, space, tier, agent_factory):
    alice, bob, _ = players
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a1")
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a2")
    assert Match.objects.count() == 0
    entry_create(agent=agent_factory(bob), space=space, fee_tier=tier, key="b1")
    match = Match.objects.get()
    assert sorted(s.owner_id for s in match.seats.all()) == sorted([alice.pk, bob.pk])
    assert Entry.objects.filter(status="queued").count() == 1


def test_it_keeps_fee_tiers_apart(players, space, tier, agent_factory):
    alice, bob, _ = players
    free = space.fee_tiers.get(name="free")
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a")
    entry_create(agent=agent_factory(bob), space=space, fee_tier=free, key="b")
    assert Match.objects.count() == 0


def test_it_waits_for_n_agents(players, carol, agent_factory):
    alice, bob, dave = players
    space = make_space(carol, slug="trio", n=3, shares=("0.5", "0.3", "0.2"))
    tier = space.fee_tiers.get(name="standard")
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a")
    entry_create(agent=agent_factory(bob), space=space, fee_tier=tier, key="b")
    assert Match.objects.count() == 0
    entry_create(agent=agent_factory(dave), space=space, fee_tier=tier, key="d")
    assert Match.objects.get().seats.count() == 3


def test_it_pairs_nearest_ratings_first(players, carol, django_user_model, agent_factory):
    alice, bob, dave = players
    erin = django_user_model.objects.create_user("erin", "e@example.com", "erin-pass-123")
    fund(erin, 1000)
    space = make_space(carol, slug="rated")
    tier = space.fee_tiers.get(name="standard")
    strong_a, strong_b = agent_factory(alice), agent_factory(bob)
    weak_a, weak_b = agent_factory(dave), agent_factory(erin)
    for agent, mu in ((strong_a, 40), (strong_b, 41), (weak_a, 10), (weak_b, 11)):
        rate(agent, space, mu)
    for agent, key in ((strong_a, "1"), (weak_a, "2"), (weak_b, "3"), (strong_b, "4")):
        entry_create(agent=agent, space=space, fee_tier=tier, key=key, matchmake=False)
    formed = matchmake(space=space, fee_tier=tier)
    pairs = {frozenset(s.agent_id for s in m.seats.all()) for m in formed}
    assert pairs == {frozenset({strong_a.pk, strong_b.pk}), frozenset({weak_a.pk, weak_b.pk})}


def test_it_widens_the_rating_window_with_waiting_time(players, space, tier, agent_factory):
    alice, bob, _ = players
    strong, weak = agent_factory(alice), agent_factory(bob)
    rate(strong, space, 45)
    rate(weak, space, 10)
    entry_create(agent=strong, space=space, fee_tier=tier, key="s")
    entry_create(agent=weak, space=space, fee_tier=tier, key="w")
    assert Match.objects.count() == 0  # 35 points apart: too far for fresh entries
    assert matchmake(space=space, fee_tier=tier, now=timezone.now() + timedelta(minutes=5)) == []
    formed = matchmake(space=space, fee_tier=tier, now=timezone.now() + timedelta(minutes=20))
    assert len(formed) == 1


def test_it_leaves_nothing_half_made_when_formation_fails(players, carol, agent_factory):
    """A space whose prompts are all held out cannot form a match: the entries stand, queued,
    and no match or seat is left behind."""
    from spaces.models import Prompt

    alice, bob, _ = players
    space = make_space(carol, slug="nopr")
    tier = space.fee_tiers.get(name="standard")
    Prompt.objects.filter(space=space).update(split="heldout")
    entry_create(agent=agent_factory(alice), space=space, fee_tier=tier, key="a")
    entry_create(agent=agent_factory(bob), space=space, fee_tier=tier, key="b")
    assert Match.objects.count() == 0
    assert Entry.objects.filter(status="queued").count() == 2
    assert ledger.user_balance(bob) == 10_000 - 100
