"""Accounts and roles. Roles: every user is a player; space creators are members of the
``settings.CREATOR_GROUP`` group (created by a data migration with its permissions); staff use
Django's is_staff."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from ledger import services as ledger


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "") -> User:
    """A new player, with the starter grant of play credits (``ARENA_STARTER_GRANT``)."""
    user = User.objects.create_user(username=username, email=email, password=password)
    ledger.starter_grant(user=user)
    return user


def creator_group() -> Group:
    group, _ = Group.objects.get_or_create(name=settings.CREATOR_GROUP)
    return group


@transaction.atomic
def user_make_creator(*, user: User) -> None:
    """Space creators manage their spaces in the admin, so they also need is_staff."""
    user.groups.add(creator_group())
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def user_is_creator(user: User) -> bool:
    return user.is_authenticated and user.groups.filter(name=settings.CREATOR_GROUP).exists()
