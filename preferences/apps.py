from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    """Preference pairs made from settled matches, their gates and provenance, and exports."""

    name = "preferences"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # arena may not import preferences, so preferences registers itself: every settled
        # match makes its pairs inside the settlement's transaction.
        from arena.hooks import (
            register_on_match_settled,
            register_on_rollout_flag_changed,
            register_space_manager_links,
        )
        from preferences import tasks  # noqa: F401  (registers the periodic task everywhere)
        from preferences.links import export_links
        from preferences.page_links import export_page_link
        from preferences.services import on_match_settled, on_rollout_flag_changed

        register_on_match_settled(on_match_settled)
        register_on_rollout_flag_changed(on_rollout_flag_changed)
        register_space_manager_links(export_page_link)  # the export page first
        register_space_manager_links(export_links)
