from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web included): services send them by name,
        # and under CELERY_TASK_ALWAYS_EAGER a registered task runs in place.
        from ledger import tasks  # noqa: F401
