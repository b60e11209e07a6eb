from django.apps import AppConfig


class LearningConfig(AppConfig):
    """Competition turned into learning: when an agent trains on its pairs, the proof-of-learning
    record of every run, and the promotion gate that decides whether a new adapter goes live.
    The top layer: it reads preference pairs (preferences), plays evaluation matches (arena),
    trains (agents) and writes records (ledger)."""

    name = "learning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the periodic task everywhere, and what a finished training job means.
        from agents.hooks import register_on_training_succeeded
        from learning import tasks  # noqa: F401
        from learning.proofs import on_training_succeeded

        register_on_training_succeeded(on_training_succeeded)

        # The agent page's training section (its owner's): jobs, curves, versions, gates.
        from arena.hooks import register_agent_page_section
        from learning.views import training_section_url

        register_agent_page_section(training_section_url)

        # ... and its practice panel: recent practice runs, links to practise and compare.
        from learning.practice_pages import practice_section_url

        register_agent_page_section(practice_section_url)
