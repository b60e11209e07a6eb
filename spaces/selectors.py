"""Reads of spaces and prompts."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from spaces.errors import SpaceError
from spaces.models import Prompt, Space


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
