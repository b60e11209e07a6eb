"""Who may change a space's economics (fee tiers, payout shares, rakes, subsidy), and when.

Players enter a space under its fee tiers and are paid by its payout shares, after the creator's
and the platform's rakes, with its subsidy added: changing those under them changes a bargain
they already made. So: only platform staff set the platform rake (the platform's cut), and a
creator changes the economics only while no player is in the space under the current ones: not
while it is open, nor while entries wait or matches run (``spaces.hooks.space_in_play``).

Every write that a creator can reach names its ``actor``: the user on whose behalf it runs (the
admin passes ``request.user``), or ``PLATFORM`` for the platform itself (management commands,
seeding, staff code). There is no default, and ``None`` is refused: a caller that forgets the
actor must fail, not act with the platform's powers. The services in ``spaces.services`` call
``refuse_changes`` under their row lock; ``space_check_economics`` lets a form show the same
refusal on its fields before anything is saved."""

from __future__ import annotations

import enum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from spaces import hooks
from spaces.errors import SpaceError
from spaces.models import Space
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
    """Why the stored ``space``'s economics cannot change now, or None when they can."""
    reasons = ["it is open"] if space.status == Space.Status.OPEN else []
    reasons += hooks.space_in_play(space) if space.pk else []
    if not reasons:
        return None
    return (
        f"players entered this space under its current economics ({', '.join(reasons)}): "
        "pause it first, and change its fee tiers, payout shares, rakes or subsidy once no "
        "entry waits and no match is in progress"
    )


def refuse_changes(
    *,
    stored: Space | None,
    proposed: Space,
    actor: Actor,
    fee_tiers_changed: bool = False,
) -> None:
    """SpaceError naming each field of ``proposed`` that ``actor`` may not change from
    ``stored`` (None: a space being created, compared with the model's defaults)."""
    if acts_as_platform(actor):
        return
    if stored is None:
        fields = Space._meta
        changed = {
            f for f in STAFF_ONLY_FIELDS if getattr(proposed, f) != fields.get_field(f).default
        }
        lock = None
    else:
        changed = {f for f in ECONOMICS_FIELDS if getattr(proposed, f) != getattr(stored, f)}
        lock = economics_lock(stored) if changed or fee_tiers_changed else None
    errors: dict[str, list[str]] = {}
    for name in STAFF_ONLY_FIELDS:
        if name in changed:
            errors[name] = ["only platform staff set the platform rake"]
    if lock:
        for name in sorted(changed - errors.keys()):
            errors[name] = [lock]
        if fee_tiers_changed:
            errors["fee_tiers"] = [lock]
    if errors:
        shown = sorted({m for messages in errors.values() for m in messages})
        raise SpaceError("; ".join(shown), field_errors=errors)


def space_check_economics(*, space: Space, actor: Actor, fee_tiers_changed: bool = False) -> None:
    """Refuse (SpaceError, ``field_errors`` by field, ``fee_tiers`` for the tiers) the economics
    changes ``actor`` may not make: ``space`` carries the proposed, validated values (a form's
    instance) and is compared with its stored row. The writes check again under a lock; this
    lets a form show the refusal next to the fields before anything is saved."""
    stored = Space.objects.filter(pk=space.pk).first() if space.pk else None
    refuse_changes(stored=stored, proposed=space, actor=actor, fee_tiers_changed=fee_tiers_changed)
