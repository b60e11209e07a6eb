"""Reads of spaces and prompts."""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from spaces.errors import SpaceError
from spaces.models import EconomicsChange, Prompt, Space


def user_is_creator(user: AbstractBaseUser | AnonymousUser) -> bool:
    # Same rule as arena.services.accounts.user_is_creator; spaces may not import arena.
    return bool(user.is_authenticated and user.groups.filter(name=settings.CREATOR_GROUP).exists())


def user_sees_all_spaces(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Superusers, and staff who are not space creators, manage every space."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (user.is_staff and not user_is_creator(user))


def spaces_managed_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Space]:
    """The spaces this user may change in the admin: their own, or all for staff."""
    if user_sees_all_spaces(user):
        return Space.objects.all()
    if not user.is_authenticated:
        return Space.objects.none()
    return Space.objects.filter(creator=user)


def spaces_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Space]:
    """Everyone sees spaces past draft; a draft is seen by its creator and by staff."""
    public = ~Q(status=Space.Status.DRAFT)
    if user_sees_all_spaces(user):
        return Space.objects.select_related("creator")
    if user.is_authenticated:
        return Space.objects.filter(public | Q(creator=user)).select_related("creator")
    return Space.objects.filter(public).select_related("creator")


def open_spaces() -> QuerySet[Space]:
    return Space.objects.filter(status=Space.Status.OPEN).select_related("creator")


def space_get(*, slug: str) -> Space:
    try:
        return Space.objects.select_related("creator").get(slug=slug)
    except Space.DoesNotExist:
        raise SpaceError(f"no space {slug!r}") from None


def prompt_counts(space: Space) -> dict[str, int]:
    rows = space.prompts.order_by().values_list("split").annotate(n=Count("id"))
    return {split: 0 for split in Prompt.Split.values} | dict(rows)


def pick_prompt(*, space: Space, split: str = Prompt.Split.TRAIN, seed: int) -> Prompt:
    """The prompt for a match: the same (space, split, seed) and prompt bank always give the same
    prompt. The index comes from SHA-256 rather than ``random`` so it does not depend on the
    Python version, and prompts are ordered by id, which only grows."""
    if split not in Prompt.Split.values:
        raise SpaceError(f"unknown split {split!r}")
    ids = list(space.prompts.filter(split=split).order_by("id").values_list("id", flat=True))
    if not ids:
        raise SpaceError(f"space {space.slug!r} has no {split} prompts")
    digest = hashlib.sha256(f"{space.pk}:{split}:{seed}".encode()).digest()
    index = int.from_bytes(digest[:8], "big") % len(ids)
    return Prompt.objects.get(pk=ids[index])


# --- the public change log of a space's economics ---------------------------------------------


def _trim(number: Decimal) -> str:
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent_of_bps(bps: int) -> str:
    """Basis points as a percentage: 500 -> "5%", 1250 -> "12.5%"."""
    return _trim(Decimal(int(bps)) / 100) + "%"


def percent_of_share(share) -> str:
    """A payout share ("0.6") as a percentage ("60%")."""
    try:
        value = Decimal(str(share)) * 100
    except InvalidOperation:
        return str(share)
    return _trim(value.quantize(Decimal("0.01"))) + "%"


def place_name(place: int) -> str:
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"


def _credits(amount) -> str:
    return "free" if not amount else f"{amount} credit{'s' if amount != 1 else ''}"


def _field_lines(name: str, before, after) -> list[str]:
    if name == "payout_shares":
        before, after = list(before or []), list(after or [])
        lines = []
        for place in range(1, max(len(before), len(after)) + 1):
            old = before[place - 1] if place <= len(before) else "0"
            new = after[place - 1] if place <= len(after) else "0"
            if Decimal(str(old)) != Decimal(str(new)):
                lines.append(
                    f"{place_name(place)} place share "
                    f"{percent_of_share(old)} -> {percent_of_share(new)}"
                )
        return lines
    if name in ("creator_rake_bps", "platform_rake_bps"):
        who = "creator" if name == "creator_rake_bps" else "platform"
        return [f"{who} rake {percent_of_bps(before)} -> {percent_of_bps(after)}"]
    if name == "subsidy":
        return [f"sponsor subsidy per match {_credits(before)} -> {_credits(after)}"]
    return [f"{name} {before} -> {after}"]


def _tier_line(op: dict) -> str:
    if op["op"] == "add":
        return f"new fee tier: {op['name']}, {_credits(op['fee'])}"
    if op["op"] == "remove":
        return f"fee tier {op['before_name']} ({_credits(op['before_fee'])}) removed"
    parts = []
    if op["name"] != op["before_name"]:
        parts.append(f"renamed {op['name']}")
    if op["fee"] != op["before_fee"]:
        parts.append(f"fee {_credits(op['before_fee'])} -> {_credits(op['fee'])}")
    return f"fee tier {op['before_name']}: {', '.join(parts)}"


def change_lines(change: EconomicsChange) -> list[str]:
    """What a change does, in words: "creator rake 5% -> 7%", "1st place share 60% -> 70%",
    "new fee tier: pro, 50 credits"."""
    lines = []
    for name in ("payout_shares", "creator_rake_bps", "platform_rake_bps", "subsidy"):
        if name in change.fields:
            values = change.fields[name]
            lines += _field_lines(name, values["before"], values["after"])
    lines += [_tier_line(op) for op in change.fee_tiers]
    return lines


def change_log(*, space: Space, limit: int = 50) -> list[EconomicsChange]:
    """The space's economics changes for its public log: pending ones first (soonest first),
    then the rest, newest first; each with ``lines`` (``change_lines``) and ``who``."""
    rows = list(
        EconomicsChange.objects.filter(space=space)
        .select_related("author")
        .order_by("-announced_at", "-id")[: max(int(limit), 0)]
    )
    pending = sorted(
        (c for c in rows if c.status == EconomicsChange.Status.PENDING),
        key=lambda c: (c.effective_at, c.pk),
    )
    rest = [c for c in rows if c.status != EconomicsChange.Status.PENDING]
    for change in rows:
        change.lines = change_lines(change)
        change.who = change.author.username if change.author_id else "the platform"
    return pending + rest


def lock_space(space_id: int) -> Space:
    """The space's row, locked until the transaction ends: the writers that need a stable view
    of a space (entries, the matchmaker, standings) queue behind each other on it.

    FOR NO KEY UPDATE, not FOR UPDATE: Django's foreign keys on PostgreSQL are checked at COMMIT,
    each check taking FOR KEY SHARE on the row referred to, which FOR UPDATE blocks. A settlement
    holding ledger accounts that had inserted a row pointing at the space waited at COMMIT for
    the space, while an entry holding the space waited for those accounts: a deadlock
    (``bench/load_api.py`` met 38 in 60 s of 50 players). NO KEY UPDATE still excludes the
    other lockers and lets the key checks through. SQLite has no row locks (the write
    transaction is the lock)."""
    return Space.objects.select_for_update(no_key=True).get(pk=space_id)
