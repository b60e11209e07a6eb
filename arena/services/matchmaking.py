"""The matchmaker: groups waiting entries into matches.

Rules:
- a match is ``space.agents_per_match`` entries of one space and one fee tier;
- never two agents of one owner in a match (the ``seat_unique_owner`` constraint backs this);
- nearest ratings first: the longest-waiting entry anchors a match and picks the waiting entries
  whose rating (openskill ordinal, mu - 3 sigma, per space) is nearest to its own;
- a rating window keeps strong and weak agents apart while there is time: two entries may meet
  when their ratings differ by at most the window of either of them, and an entry's window
  widens with its waiting time: ``BASE_WINDOW + WIDEN_PER_MINUTE * minutes waited``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from arena.models import Entry, Match, Seat
from arena.services import dispatch
from arena.services.errors import ArenaError
from arena.services.events import publish_match_state
from arena.services.payouts import terms_of
from judges.models import UNRATED_ORDINAL
from judges.ratings import ordinals
from ledger import services as ledger
from spaces.errors import SpaceError
from spaces.models import FeeTier, Space
from spaces.selectors import lock_space, pick_prompt
from spaces.services import apply_due_changes

logger = logging.getLogger(__name__)

BASE_WINDOW = 5.0  # ordinal points: two fresh agents (ordinal 0) always fit
WIDEN_PER_MINUTE = 2.5  # after ~10 minutes almost any two agents may meet


@dataclass(frozen=True)
class Waiting:
    entry: Entry
    rating: float
    waited_s: float

    def window(self) -> float:
        return BASE_WINDOW + WIDEN_PER_MINUTE * self.waited_s / 60


def _pick_group(
    waiting: list[Waiting], size: int, *, window_override: float | None
) -> list[Waiting] | None:
    """The first group the rules allow, anchoring on the longest-waiting entries in turn."""
    for anchor in waiting:
        group = [anchor]
        owners = {anchor.entry.owner_id}
        agents = {anchor.entry.agent_id}
        others = sorted(
            (w for w in waiting if w is not anchor),
            key=lambda w: (abs(w.rating - anchor.rating), w.entry.created, w.entry.pk),
        )
        for other in others:
            if other.entry.owner_id in owners or other.entry.agent_id in agents:
                continue
            allowed = (
                window_override
                if window_override is not None
                else max(anchor.window(), other.window())
            )
            if abs(other.rating - anchor.rating) > allowed:
                continue
            # Every pair in the match must fit, not only pairs with the anchor.
            if window_override is None and any(
                abs(other.rating - g.rating) > max(other.window(), g.window()) for g in group[1:]
            ):
                continue
            group.append(other)
            owners.add(other.entry.owner_id)
            agents.add(other.entry.agent_id)
            if len(group) == size:
                return group
    return None


def _derive_seat_seed(match_seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{match_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@transaction.atomic
def match_form(*, space: Space, fee_tier: FeeTier, entries: list[Entry], seed: int | None = None):
    """Make a match of these waiting entries: seats, prompt, fees into the match's escrow."""
    # Announced economics changes whose time has come apply first, under the space's row lock,
    # so no match forms under terms that should have changed (terms_of reads this row).
    space = apply_due_changes(space)
    seed = secrets.randbits(62) if seed is None else seed
    try:
        prompt = pick_prompt(space=space, seed=seed)
    except SpaceError as exc:
        raise ArenaError(str(exc)) from exc
    match = Match.objects.create(
        space=space, fee_tier=fee_tier, prompt=prompt, seed=seed, terms=terms_of(space)
    )
    claimed = Entry.objects.filter(
        pk__in=[e.pk for e in entries], status=Entry.Status.QUEUED
    ).update(status=Entry.Status.MATCHED, match=match)
    if claimed != len(entries):
        # Someone left (or another matchmaker took an entry) since we read the queue.
        raise ArenaError("the queue changed while forming a match; try again")
    for index, entry in enumerate(entries):
        Seat.objects.create(
            match=match,
            index=index,
            entry=entry,
            agent_id=entry.agent_id,
            owner_id=entry.owner_id,
            seed=_derive_seat_seed(seed, index),
        )
        if entry.fee:
            ledger.transfer(
                debit=ledger.escrow_account(entry.escrow_ref),
                credit=ledger.escrow_account(match.escrow_ref),
                amount=entry.fee,
                key=f"entry:{entry.pk}:to-match",
                kind="escrow",
                memo=f"entry #{entry.pk} into match #{match.pk}",
            )
    match.fees = sum(e.fee for e in entries)
    match.pot = match.fees
    match.save(update_fields=["fees", "pot"])
    publish_match_state(match, seats=len(entries))
    dispatch.enqueue_step(match_id=match.pk, status=match.status)
    return match


@transaction.atomic
def matchmake(
    *,
    space: Space,
    fee_tier: FeeTier,
    now: datetime | None = None,
    window_override: float | None = None,
    limit: int | None = None,
) -> list[Match]:
    """Form every match the queue of (space, fee tier) allows now. ``window_override`` replaces
    the rating window (``play`` uses an infinite one so its matches form at once)."""
    now = now or timezone.now()
    space = lock_space(space.pk)
    if space.status != Space.Status.OPEN:
        return []
    size = space.agents_per_match
    queued = list(
        Entry.objects.select_for_update()
        .filter(space=space, fee_tier=fee_tier, status=Entry.Status.QUEUED)
        .order_by("created", "pk")
    )
    if len(queued) < size:
        return []
    ratings = ordinals(space=space, agent_ids=[e.agent_id for e in queued])
    waiting = [
        Waiting(e, ratings.get(e.agent_id, UNRATED_ORDINAL), (now - e.created).total_seconds())
        for e in queued
    ]
    formed: list[Match] = []
    while len(waiting) >= size and (limit is None or len(formed) < limit):
        group = _pick_group(waiting, size, window_override=window_override)
        if group is None:
            break
        try:
            with transaction.atomic():
                match = match_form(space=space, fee_tier=fee_tier, entries=[w.entry for w in group])
        except ArenaError as exc:
            # No prompt to play, or an entry left meanwhile: this round forms nothing more;
            # the entries stay queued for the next one.
            logger.warning("matchmaking in %s stopped: %s", space.slug, exc)
            break
        formed.append(match)
        waiting = [w for w in waiting if w not in group]
    return formed


def matchmake_all(*, now: datetime | None = None) -> list[Match]:
    """Run the matchmaker over every open space's queues (periodic: windows widen with time)."""
    formed: list[Match] = []
    pairs = (
        Entry.objects.filter(status=Entry.Status.QUEUED, space__status=Space.Status.OPEN)
        .values_list("space_id", "fee_tier_id")
        .distinct()
    )
    for space_id, tier_id in list(pairs):
        formed += matchmake(
            space=Space.objects.get(pk=space_id), fee_tier=FeeTier.objects.get(pk=tier_id), now=now
        )
    return formed
