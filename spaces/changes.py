"""Economics changes with a notice period, and the public change log (``EconomicsChange``).

A change of a space's payout shares, rakes, subsidy or fee tiers while players are in the space
(it is open, entries wait or matches run: ``economics.economics_lock``) is not refused: it is
announced in the space's change log and takes effect ``ARENA_ECONOMICS_NOTICE_S`` later (0: at
once), for matches formed from then on. Matches keep the terms they formed under
(``arena.models.Match.terms``), and waiting entries keep the fee they paid, so nobody plays under
terms they were not shown. A space nobody is in changes at once; that is logged too, as applied.

Rules decided here:
- one pending change per field (the fee tiers count as one field): another change of a field
  while one is pending is refused, naming the pending one; its author (or staff) withdraws it
  first. Silently replacing an announced change would make the log say less than what players
  were shown.
- a pending change is checked with the other pending ones as if all had taken effect, and checked
  again when it comes due: one that no longer fits (another setting changed meanwhile) is
  withdrawn with the reason in its ``note``, never half applied.
- removing a fee tier: when it takes effect, entries still waiting in the tier leave the queue
  with their fees back (``hooks.fee_tier_removed``, registered by arena); a tier never used is
  deleted, one with history is kept as retired (``FeeTier.retired_at``).

Due changes are applied by the beat task ``spaces.apply_economics_changes`` and by
``apply_due_changes(space)``, which the matchmaker calls when it forms a match, so no match forms
under terms that should have changed. Both take the space's row lock; a change applies once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from spaces import hooks
from spaces.economics import (
    ECONOMICS_FIELDS,
    PLATFORM,
    Actor,
    acts_as_platform,
    needs_notice,
    notice_s,
    pending_changes,
    pending_conflicts,
)
from spaces.errors import SpaceError
from spaces.models import EconomicsChange, FeeTier, Space

MAX_REASON_CHARS = 1000


def _author(actor: Actor):
    return actor if isinstance(actor, AbstractBaseUser) else None


def future_space(stored: Space) -> Space:
    """A copy of ``stored`` with every pending change of its fields applied (not saved)."""
    future = Space.objects.get(pk=stored.pk)
    for change in pending_changes(stored).order_by("effective_at", "pk"):
        for name, values in change.fields.items():
            setattr(future, name, values["after"])
    return future


def _clean(space: Space) -> None:
    try:
        space.full_clean()
    except ValidationError as exc:
        fields = {name: list(msgs) for name, msgs in exc.message_dict.items()}
        text = "; ".join(f"{name}: {' '.join(m)}" for name, m in fields.items())
        raise SpaceError(text, field_errors=fields) from None


def _check_reason(reason: str) -> str:
    if not isinstance(reason, str):
        raise SpaceError("the reason is text", field_errors={"reason": ["the reason is text"]})
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        message = f"the reason is at most {MAX_REASON_CHARS} characters"
        raise SpaceError(message, field_errors={"reason": [message]})
    return reason


def record_change(
    *,
    space: Space,
    actor: Actor,
    fields: dict[str, dict[str, Any]] | None = None,
    fee_tiers: list[dict[str, Any]] | None = None,
    reason: str = "",
    scheduled: bool,
) -> EconomicsChange:
    """Log a change: pending until ``now + notice`` when ``scheduled``, else applied now (the
    caller has applied it). Runs under the space's row lock, taken by the caller."""
    now = timezone.now()
    return EconomicsChange.objects.create(
        space=space,
        author=_author(actor),
        fields=fields or {},
        fee_tiers=fee_tiers or [],
        reason=_check_reason(reason),
        status=EconomicsChange.Status.PENDING if scheduled else EconomicsChange.Status.APPLIED,
        announced_at=now,
        effective_at=now + timedelta(seconds=notice_s()) if scheduled else now,
        applied_at=None if scheduled else now,
    )


# --- withdrawing ----------------------------------------------------------------------------


@transaction.atomic
def economics_change_withdraw(*, change: EconomicsChange, actor: Actor) -> EconomicsChange:
    """Withdraw a pending change before it takes effect: its author, or platform staff."""
    Space.objects.select_for_update(no_key=True).get(pk=change.space_id)
    change = EconomicsChange.objects.get(pk=change.pk)
    is_author = isinstance(actor, AbstractBaseUser) and change.author_id == actor.pk
    if not (acts_as_platform(actor) or is_author):
        raise SpaceError("only the change's author or platform staff may withdraw it")
    if change.status != EconomicsChange.Status.PENDING:
        raise SpaceError(f"this change is {change.status}; only a pending change is withdrawn")
    now = timezone.now()
    if change.effective_at <= now:
        raise SpaceError("this change has already taken effect")
    who = "the platform" if actor is PLATFORM else getattr(actor, "username", "staff")
    change.status = EconomicsChange.Status.WITHDRAWN
    change.withdrawn_at = now
    change.note = f"withdrawn by {who}"
    change.save(update_fields=["status", "withdrawn_at", "note"])
    return change


# --- applying -------------------------------------------------------------------------------


def _apply_tier(space: Space, op: dict[str, Any], now: datetime) -> None:
    if op["op"] == "add":
        if FeeTier.objects.filter(space=space, name=op["name"], retired_at__isnull=True).exists():
            raise SpaceError(f"a fee tier named {op['name']!r} exists already")
        FeeTier.objects.filter(space=space, name=op["name"]).delete()  # a retired namesake
        tier = FeeTier(space=space, name=op["name"], fee=op["fee"])
        tier.full_clean()
        tier.save()
        return
    tier = FeeTier.objects.filter(pk=op["tier"], space=space, retired_at__isnull=True).first()
    if tier is None:
        raise SpaceError(f"fee tier {op['before_name']!r} no longer exists")
    if op["op"] == "change":
        # Entries already waiting keep the fee they paid (Entry.fee); the pot is what was held.
        tier.name, tier.fee = op["name"], op["fee"]
        tier.full_clean()
        tier.save(update_fields=["name", "fee"])
        return
    hooks.fee_tier_removed(tier)  # waiting entries leave with their fees back
    used = tier.entries.exists() or tier.matches.exists()
    if used:
        tier.retired_at = now
        tier.save(update_fields=["retired_at"])
    else:
        tier.delete()


def _apply(space: Space, change: EconomicsChange, now: datetime) -> bool:
    """Apply one due change to the locked ``space``: all of it or (withdrawn, with the reason)
    none of it. True when applied."""
    try:
        with transaction.atomic():
            for name, values in change.fields.items():
                setattr(space, name, values["after"])
            _clean(space)
            if change.fields:
                space.save(update_fields=[*change.fields, "updated"])
            for op in change.fee_tiers:
                _apply_tier(space, op, now)
    except (SpaceError, ValidationError) as exc:
        space.refresh_from_db()
        message = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        change.status = EconomicsChange.Status.WITHDRAWN
        change.withdrawn_at = now
        change.note = "could not take effect: " + "; ".join(message)
        change.save(update_fields=["status", "withdrawn_at", "note"])
        return False
    change.status = EconomicsChange.Status.APPLIED
    change.applied_at = now
    change.save(update_fields=["status", "applied_at"])
    return True


@transaction.atomic
def apply_due_changes(space: Space, *, now: datetime | None = None) -> Space:
    """Apply the space's changes whose time has come, in order, under its row lock, and return
    the space as it now stands (a fresh, locked row: the caller forms matches on it). Applying
    twice applies nothing twice: a change is applied once, by whoever holds the lock first."""
    now = now or timezone.now()
    space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
    due = pending_changes(space).filter(effective_at__lte=now).order_by("effective_at", "pk")
    for change in due:
        _apply(space, change, now)
    return space


def apply_all_due_changes(*, now: datetime | None = None) -> int:
    """Apply every space's due changes (the beat task); how many spaces had some."""
    now = now or timezone.now()
    due = Q(status=EconomicsChange.Status.PENDING, effective_at__lte=now)
    space_ids = sorted(set(EconomicsChange.objects.filter(due).values_list("space_id", flat=True)))
    for space_id in space_ids:
        apply_due_changes(Space(pk=space_id), now=now)
    return len(space_ids)


__all__ = [
    "ECONOMICS_FIELDS",
    "apply_all_due_changes",
    "apply_due_changes",
    "economics_change_withdraw",
    "future_space",
    "needs_notice",
    "pending_conflicts",
    "record_change",
]
