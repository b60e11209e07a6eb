from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web included): services look them up by
        # name in Celery's registry (arena.services.dispatch) instead of importing them.
        from arena import tasks  # noqa: F401

        # The creator's space page in the admin shows entries, matches and revenue from here
        # (spaces may not import arena, so arena registers itself).
        from arena.selectors import space_activity, space_in_play
        from arena.services.entries import entries_return_on_close, entries_return_on_tier_removed
        from arena.services.judge_report import judge_report_summary
        from spaces.hooks import (
            register_on_fee_tier_removed,
            register_on_space_closed,
            register_space_in_play,
            register_space_summary,
        )

        register_space_summary(space_activity)
        register_space_summary(judge_report_summary)
        register_on_space_closed(entries_return_on_close)
        register_on_fee_tier_removed(entries_return_on_tier_removed)
        register_space_in_play(space_in_play)

        # An agent's training jobs, live on its owner's page (group agent_<id>): every step,
        # and the end (agents may not import arena, so arena registers itself).
        from agents.hooks import (
            register_on_training_ended,
            register_on_training_progress,
            register_on_training_succeeded,
        )
        from arena.realtime import publish_training_finished, publish_training_progress

        register_on_training_progress(publish_training_progress)
        register_on_training_succeeded(publish_training_finished)
        register_on_training_ended(publish_training_finished)
