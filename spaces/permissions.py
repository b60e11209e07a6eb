"""Model permissions of the space-creator group. Which *objects* a creator may touch (only their
own spaces) is decided in the admin through ``spaces.selectors.spaces_managed_by``."""

from __future__ import annotations

from django.conf import settings

CREATOR_PERMISSIONS = {
    "space": ("view", "add", "change"),
    "feetier": ("view", "add", "change"),
    "prompt": ("view", "add", "change"),
}


def grant_creator_permissions(apps=None) -> None:
    """Give ``settings.CREATOR_GROUP`` the spaces model permissions; idempotent.

    Pass a migration's ``apps`` to run inside a data migration: content types and permissions are
    created when missing, since Django only makes them after all migrations ran."""
    if apps is None:
        from django.contrib.auth.models import Group, Permission
        from django.contrib.contenttypes.models import ContentType
    else:
        Group = apps.get_model("auth", "Group")  # noqa: N806
        Permission = apps.get_model("auth", "Permission")  # noqa: N806
        ContentType = apps.get_model("contenttypes", "ContentType")  # noqa: N806
    group, _ = Group.objects.get_or_create(name=settings.CREATOR_GROUP)
    for model, actions in CREATOR_PERMISSIONS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label="spaces", model=model)
        for action in actions:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=f"{action}_{model}",
                defaults={"name": f"Can {action} {model}"},
            )
            group.permissions.add(permission)
