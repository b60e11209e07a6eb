from django.apps import AppConfig
from django.db.models.signals import post_migrate

from spaces.permissions import grant_creator_permissions


def _grant_creator_permissions(sender, **kwargs) -> None:
    grant_creator_permissions()


class SpacesConfig(AppConfig):
    name = "spaces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Also after every migrate, so a model permission added later reaches the creator group.
        post_migrate.connect(_grant_creator_permissions, sender=self)
