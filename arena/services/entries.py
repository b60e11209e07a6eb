"""Entering an agent into a space's queue, and leaving it.

Where the fee is: ``entry_create`` holds it from the owner into the escrow account
``entry:<entry id>``; when the entry is matched the whole amount moves (one ledger transfer) into
``match:<match id>``, the escrow the match settles or refunds from; ``entry_leave`` releases it
back to the owner while the entry still waits. Every ledger call carries a key derived from the
entry's id, so a retried call moves nothing twice.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from agents.models import Agent
from arena.models import Entry
from arena.services.errors import ArenaError, NotAllowed
from arena.services.events import publish_queue_change
from arena.services.matchmaking import matchmake as run_matchmaker
from ledger import services as ledger
from ledger.errors import LedgerError
from spaces.models import FeeTier, Space
from spaces.selectors import lock_space

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 120


def _check_can_enter(*, agent: Agent, space: Space, fee_tier: FeeTier) -> None:
    if space.status != Space.Status.OPEN:
        raise ArenaError(f"space {space.slug!r} is {space.status}, not open for entries")
    if fee_tier.space_id != space.pk:
        raise ArenaError(f"fee tier {fee_tier.name!r} is not a tier of space {space.slug!r}")
    if fee_tier.retired_at is not None:
        raise ArenaError(f"fee tier {fee_tier.name!r} was removed from space {space.slug!r}")


@transaction.atomic
def entry_create(
    *,
    agent: Agent,
    space: Space,
    fee_tier: FeeTier,
    key: str,
    user: AbstractBaseUser | None = None,
    automatic: bool = False,
    matchmake: bool = True,
) -> tuple[Entry, bool]:
    """Queue ``agent`` in ``space`` at ``fee_tier``, paying the fee into escrow. Returns the entry
    and whether this call created it (like Django's ``get_or_create``).

    ``user`` (when given) must own the agent. The same owner and ``key`` return the entry made
    the first time, whatever happened to it since; the same key for a different agent, space or
    tier is refused. With ``matchmake`` a match forms right away when enough agents wait."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ArenaError(f"an idempotency key of 1 to {MAX_KEY_LENGTH} characters is required")
    if user is not None and agent.owner_id != user.pk:
        raise NotAllowed("you can only enter your own agents")
    owner = agent.owner
    existing = _entry_with_key(owner=owner, key=key, agent=agent, space=space, fee_tier=fee_tier)
    if existing is not None:
        return existing, False
    # Lock the space row: entries of one space queue up behind each other, so the "already
    # waiting" check and the matchmaker see a stable queue.
    space = lock_space(space.pk)
    # A request with the same key may have committed while this one waited for the lock.
    existing = _entry_with_key(owner=owner, key=key, agent=agent, space=space, fee_tier=fee_tier)
    if existing is not None:
        return existing, False
    fee_tier = FeeTier.objects.get(pk=fee_tier.pk)
    _check_can_enter(agent=agent, space=space, fee_tier=fee_tier)
    if Entry.objects.filter(agent=agent, space=space, status=Entry.Status.QUEUED).exists():
        raise ArenaError(f"{agent.name} is already waiting in {space.slug}")
    try:
        with transaction.atomic():
            entry = Entry.objects.create(
                owner=owner,
                agent=agent,
                space=space,
                fee_tier=fee_tier,
                fee=fee_tier.fee,
                key=key,
                automatic=automatic,
            )
    except IntegrityError:
        # A concurrent request with the same key (or the same agent) won the race.
        raise ArenaError("this entry was just made by another request; retry to see it") from None
    if entry.fee:
        try:
            ledger.hold(
                user=owner,
                escrow_ref=entry.escrow_ref,
                amount=entry.fee,
                key=f"entry:{entry.pk}:hold",
            )
        except LedgerError as exc:
            raise ArenaError(f"cannot pay the entry fee of {entry.fee} credits: {exc}") from exc
    publish_queue_change(space=space, entry=entry, event="entry.queued")
    if matchmake:
        try:
            with transaction.atomic():
                run_matchmaker(space=space, fee_tier=fee_tier)
        except ArenaError as exc:
            # The entry stands; the periodic matchmaker tries again later.
            logger.warning("no match formed in %s: %s", space.slug, exc)
        entry.refresh_from_db()
    return entry, True


def _entry_with_key(*, owner, key: str, agent: Agent, space: Space, fee_tier: FeeTier):
    """The owner's entry made with ``key``, if any; refused if it was for something else."""
    existing = Entry.objects.filter(owner=owner, key=key).first()
    if existing is not None and (existing.agent_id, existing.space_id, existing.fee_tier_id) != (
        agent.pk,
        space.pk,
        fee_tier.pk,
    ):
        raise ArenaError(f"key {key!r} was already used for a different entry")
    return existing


@transaction.atomic
def entry_leave(*, entry: Entry, user: AbstractBaseUser | None = None) -> Entry:
    """Take a waiting entry out of the queue and give its fee back. Leaving an entry that already
    left is a no-op; an entry in a match can no longer leave."""
    if user is not None and entry.owner_id != user.pk:
        raise NotAllowed("you can only withdraw your own entries")
    updated = Entry.objects.filter(pk=entry.pk, status=Entry.Status.QUEUED).update(
        status=Entry.Status.LEFT
    )
    entry.refresh_from_db()
    if updated != 1:
        if entry.status == Entry.Status.LEFT:
            return entry
        raise ArenaError(f"entry #{entry.pk} is {entry.status}: only a waiting entry can leave")
    if entry.fee:
        ledger.release(
            user=entry.owner,
            escrow_ref=entry.escrow_ref,
            amount=entry.fee,
            key=f"entry:{entry.pk}:release",
        )
    publish_queue_change(space=entry.space, entry=entry, event="entry.left")
    return entry


def entries_return_on_close(space) -> int:
    """A closed space never forms another match: every entry still waiting in it leaves the
    queue with its fee back. Matches already formed play on. Returns how many left."""
    waiting = list(Entry.objects.filter(space=space, status=Entry.Status.QUEUED).order_by("pk"))
    for entry in waiting:
        entry_leave(entry=entry)
    return len(waiting)


def entries_return_on_tier_removed(tier) -> int:
    """A fee tier removed by an economics change forms no more matches: entries still waiting
    in it leave the queue with their fee back. Returns how many left."""
    waiting = list(Entry.objects.filter(fee_tier=tier, status=Entry.Status.QUEUED).order_by("pk"))
    for entry in waiting:
        entry_leave(entry=entry)
    return len(waiting)
