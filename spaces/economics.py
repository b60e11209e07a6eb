"""Who may change a space's economics (fee tiers, payout shares, rakes, subsidy), and when.

Players enter a space under its fee tiers and are paid by its payout shares, after the creator's
and the platform's rakes, with its subsidy added: changing those under them changes a bargain
they already made. So: only platform staff set the platform rake (the platform's cut), and a
change while players are in the space (it is open, entries wait or matches run:
``spaces.hooks.space_in_play``) is announced in the space's public change log and takes effect
after a notice period, for matches formed from then on (``spaces.changes``).

Every write that a creator can reach names its ``actor``: the user on whose behalf it runs (the
admin passes ``request.user``), or ``PLATFORM`` for the platform itself (management commands,
seeding, staff code). There is no default, and ``None`` is refused: a caller that forgets the
actor must fail, not act with the platform's powers. The services in ``spaces.services`` call
``refuse_changes`` under their row lock; ``space_check_economics`` lets a form show the same
refusal on its fields before anything is saved."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from spaces import hooks
from spaces.errors import SpaceError
from spaces.models import EconomicsChange, Space
from spaces.selectors import user_sees_all_spaces

# What players pay and are paid; players enter under these, so they are frozen while in play.
# (Fee tiers are economics too; they are their own rows.)
ECONOMICS_FIELDS = ("payout_shares", "creator_rake_bps", "platform_rake_bps", "subsidy")
# The platform's cut of every pot: platform staff set it, never a space's creator.
STAFF_ONLY_FIELDS = ("platform_rake_bps",)


class Platform(enum.Enum):
    """The platform acting for itself, not for a user: ``actor=PLATFORM``."""

    PLATFORM = "platform"

    def __repr__(self) -> str:
        return "PLATFORM"


PLATFORM = Platform.PLATFORM
Actor = AbstractBaseUser | AnonymousUser | Platform


def acts_as_platform(actor: Actor) -> bool:
    """Whether ``actor`` has the platform's powers: ``PLATFORM`` itself, or platform staff.
    Anything but a user or ``PLATFORM`` (``None`` above all) is a caller's bug: TypeError."""
    if actor is PLATFORM:
        return True
    if not isinstance(actor, AbstractBaseUser | AnonymousUser):
        raise TypeError(
            f"actor must be the user acted for, or spaces.economics.PLATFORM; not {actor!r}"
        )
    return user_sees_all_spaces(actor)


def economics_lock(space: Space) -> str | None:
    """Why a change of the stored ``space``'s economics waits for the notice period (players
    are in it), or None when it can take effect at once."""
    reasons = ["it is open"] if space.status == Space.Status.OPEN else []
    reasons += hooks.space_in_play(space) if space.pk else []
    if not reasons:
        return None
    return f"players entered this space under its current economics ({', '.join(reasons)})"


FIELD_LABELS = {
    "payout_shares": "payout shares",
    "creator_rake_bps": "creator rake",
    "platform_rake_bps": "platform rake",
    "subsidy": "subsidy",
    "fee_tiers": "fee tiers",
}


def notice_s() -> int:
    return int(settings.ARENA_ECONOMICS_NOTICE_S)


def needs_notice(space: Space) -> bool:
    """Whether an economics change to the stored ``space`` waits for the notice period."""
    return notice_s() > 0 and economics_lock(space) is not None


def pending_changes(space: Space):
    return EconomicsChange.objects.filter(space=space, status=EconomicsChange.Status.PENDING)


def _when(change: EconomicsChange) -> str:
    return f"#{change.pk}, taking effect {change.effective_at:%Y-%m-%d %H:%M} UTC"


def pending_conflicts(
    space: Space, *, fields: list[str] = (), fee_tiers: bool = False
) -> dict[str, list[str]]:
    """Field errors (``fee_tiers`` for the tiers, which count as one field) for a change that
    collides with an announced one of the same field: one pending change per field."""
    errors: dict[str, list[str]] = {}
    for change in pending_changes(space).order_by("effective_at", "pk"):
        clashes = [name for name in fields if name in change.fields]
        if fee_tiers and change.fee_tiers:
            clashes.append("fee_tiers")
        for name in clashes:
            label = FIELD_LABELS.get(name, "fee tiers")
            errors.setdefault(name, []).append(
                f"a change of the {label} is already announced ({_when(change)}); withdraw it first"
            )
    return errors


def refuse_changes(
    *,
    stored: Space | None,
    proposed: Space,
    actor: Actor,
    fee_tiers_changed: bool = False,
) -> None:
    """SpaceError naming each field of ``proposed`` that ``actor`` may never change from
    ``stored`` (None: a space being created, compared with the model's defaults): the platform
    rake, unless the actor is platform staff. Whether a change waits for a notice period is
    ``spaces.changes``' business, not a refusal. ``fee_tiers_changed`` is kept for callers:
    fee tiers are a creator's to change."""
    if acts_as_platform(actor):
        return
    if stored is None:
        fields = Space._meta
        changed = {
            f for f in STAFF_ONLY_FIELDS if getattr(proposed, f) != fields.get_field(f).default
        }
    else:
        changed = {f for f in STAFF_ONLY_FIELDS if getattr(proposed, f) != getattr(stored, f)}
    errors = {name: ["only platform staff set the platform rake"] for name in sorted(changed)}
    if errors:
        raise SpaceError("only platform staff set the platform rake", field_errors=errors)


def space_check_economics(
    *, space: Space, actor: Actor, fee_tiers_changed: bool = False
) -> datetime | None:
    """Refuse (SpaceError, ``field_errors`` by field, ``fee_tiers`` for the tiers) the economics
    changes ``actor`` may not make: ``space`` carries the proposed, validated values (a form's
    instance) and is compared with its stored row. Refused: the platform rake by anyone but
    staff, and a field (or the tiers, when ``fee_tiers_changed``) with a change already
    announced (withdraw that first). The writes check again under a lock; this lets a form show
    the refusal next to the fields before anything is saved.

    Returns when the change will take effect: a datetime when it waits for the notice period
    (players are in the space; show "this change takes effect on ..."), None when it applies at
    once (or changes no economics)."""
    stored = Space.objects.filter(pk=space.pk).first() if space.pk else None
    refuse_changes(stored=stored, proposed=space, actor=actor, fee_tiers_changed=fee_tiers_changed)
    if stored is None:
        return None
    changed = [f for f in ECONOMICS_FIELDS if getattr(space, f) != getattr(stored, f)]
    conflicts = pending_conflicts(stored, fields=changed, fee_tiers=fee_tiers_changed)
    if conflicts:
        shown = sorted({m for messages in conflicts.values() for m in messages})
        raise SpaceError("; ".join(shown), field_errors=conflicts)
    if (changed or fee_tiers_changed) and needs_notice(stored):
        return timezone.now() + timedelta(seconds=notice_s())
    return None
