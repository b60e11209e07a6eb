from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "judges"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A space's judge panel is checked when the creator saves it, by spaces, which must not
        # import judges. So judges hands spaces the checks of its kinds: one definition of what a
        # valid judge config is, and a space can never store a panel that run_panel refuses.
        from django.core.exceptions import ValidationError

        from judges.errors import JudgeConfigError
        from judges.kinds import KINDS
        from spaces import validation

        def validator_for(cls):
            def validate(config, where):
                try:
                    return cls.normalize_config(config)
                except JudgeConfigError as exc:
                    raise ValidationError(f"{where}: {exc}") from None

            return validate

        for kind, cls in KINDS.items():
            validation.register_judge_kind(
                kind, validator_for(cls), needs_reference=cls.needs_reference
            )
