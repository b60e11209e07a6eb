from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "judges"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A space's judge panel is checked when the creator saves it, by spaces, which must not
        # import judges. So judges hands spaces its one check of a panel (judges.config): a
        # space can never store a panel that run_panel refuses.
        from judges.admin import try_panel_url
        from judges.config import SpacePanelChecker
        from spaces.hooks import register_judge_panel_checker, register_space_admin_link

        register_judge_panel_checker(SpacePanelChecker())
        # A space's admin page links to "Try a judge panel", prefilled from that space; spaces
        # shows the link without knowing judges.
        register_space_admin_link("Try a judge panel", try_panel_url)
