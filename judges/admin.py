"""Read-mostly admin for verdicts, ratings and standings (written by the match loop and the
standings refit, not by hand), and the "Try a judge panel" page: a space's creator (or staff)
runs a panel on two sample answers and reads each judge's verdict, saving nothing
(``judges.trial``). A space's admin page links to it (``JudgesConfig.ready()`` registers the link
with ``spaces.hooks.register_space_admin_link``)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse

from judges.errors import JudgeRunError
from judges.models import Rating, Standing, StandingsFit, Verdict
from judges.panel_form import rows_from_data
from judges.trial import (
    MAX_PANEL_CHARS,
    MAX_SAMPLE_CHARS,
    TrialInputError,
    run_trial,
    trial_input,
)
from spaces.models import Prompt, Space
from spaces.prompt_bank import MAX_PROMPT_CHARS, MAX_REFERENCE_CHARS
from spaces.selectors import spaces_managed_by, user_sees_all_spaces

TRY_PANEL_URL_NAME = "judges_try_panel"


def try_panel_url(space: Space) -> str | None:
    """The try page, prefilled from ``space``; None where the admin is not served."""
    try:
        return f"{reverse(f'admin:{TRY_PANEL_URL_NAME}')}?space={space.pk}"
    except NoReverseMatch:
        return None


def _text(label: str, help_text: str, rows: int = 6) -> forms.CharField:
    # No max_length here: judges.trial checks sizes (and everything else) in one place.
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 90, "spellcheck": "false"}),
    )


class TryPanelForm(forms.Form):
    panel = _text(
        "Judge panel",
        "A JSON list of judge configs, as in a space's judge panel, e.g. "
        '[{"kind": "pairwise-llm"}] or [{"kind": "verifier", "mode": "numeric"}] '
        f"(at most {MAX_PANEL_CHARS} characters).",
        rows=10,
    )
    prompt = _text("Prompt", f"The task both answers reply to (at most {MAX_PROMPT_CHARS}).", 4)
    reference = _text(
        "Reference answer",
        f"For verifiers (other than tests and json_schema) and shown to LLM judges; "
        f"optional (at most {MAX_REFERENCE_CHARS}).",
        rows=2,
    )
    tests = _text(
        "Tests",
        "For a verifier in mode tests: a JSON list of Python snippets, e.g. "
        '["assert add(2, 3) == 5"]; the answers\' code runs in the sandbox.',
        rows=3,
    )
    answer_a = _text("Answer A", f"At most {MAX_SAMPLE_CHARS} characters.", 6)
    answer_b = _text("Answer B", f"At most {MAX_SAMPLE_CHARS} characters.", 6)


def _prefill(space: Space) -> dict[str, str]:
    """The form as a space starts it: its panel, and its first train prompt as the sample."""
    initial = {"panel": json.dumps(space.judge_panel, indent=2)}
    prompt = space.prompts.filter(split=Prompt.Split.TRAIN).order_by("id").first()
    if prompt is not None:
        initial.update(prompt=prompt.text, reference=prompt.reference or "")
        if prompt.tests:
            initial["tests"] = json.dumps(prompt.tests, indent=2)
    return initial


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ("id", "match", "judge_kind", "created")
    list_filter = ("judge_kind",)
    search_fields = ("match__id",)
    raw_id_fields = ("match",)
    readonly_fields = ("match", "judge_kind", "data", "created")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # --- try a judge panel -----------------------------------------------------------------

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "try-panel/".
        view = self.admin_site.admin_view(self.try_panel_view)
        return [path("try-panel/", view, name=TRY_PANEL_URL_NAME), *super().get_urls()]

    def _chosen_space(self, request: HttpRequest) -> Space | None:
        """The space the page is for, which the user must manage; None for none chosen.
        Another creator's space (or a malformed id) is refused outright."""
        space_id = request.POST.get("space") or request.GET.get("space")
        if not space_id:
            return None
        if not space_id.isdigit():
            raise PermissionDenied
        space = spaces_managed_by(request.user).filter(pk=int(space_id)).first()
        if space is None:
            raise PermissionDenied
        return space

    def try_panel_view(self, request: HttpRequest):
        # admin_view has let in active staff only (creators are staff); CSRF is checked on POST.
        staff = user_sees_all_spaces(request.user)
        space = self._chosen_space(request)
        if space is None and not staff and request.method == "POST":
            raise PermissionDenied  # a creator tries panels for one of her own spaces
        report, run_error = None, None
        if request.method == "POST" and request.POST.get("from_editor"):
            # Sent by the space editor's "Try this judge panel": the rows as edited there
            # (unsaved) fill the form; nothing runs until the creator adds answers and submits.
            initial = _prefill(space) if space else {}
            initial["panel"] = json.dumps(rows_from_data(request.POST, "judge_panel"), indent=2)
            form = TryPanelForm(initial=initial)
        elif request.method == "POST":
            form = TryPanelForm(request.POST)
            form.is_valid()  # every field is optional text: the service checks the content
            try:
                trial = trial_input(
                    panel_text=form.cleaned_data["panel"],
                    prompt_text=form.cleaned_data["prompt"],
                    reference=form.cleaned_data["reference"],
                    tests_text=form.cleaned_data["tests"],
                    answer_a=form.cleaned_data["answer_a"],
                    answer_b=form.cleaned_data["answer_b"],
                    space_id=space.pk if space else None,
                )
                report = run_trial(trial)
            except TrialInputError as exc:
                for field, problems in exc.field_errors.items():
                    form.add_error(field, problems)
            except JudgeRunError as exc:
                run_error = str(exc)
        else:
            form = TryPanelForm(initial=_prefill(space) if space else {})
        context = {
            **self.admin_site.each_context(request),
            "title": "Try a judge panel" + (f" for {space}" if space else ""),
            "space": space,
            "spaces": spaces_managed_by(request.user).order_by("slug"),
            "staff": staff,
            "can_try": staff or space is not None,
            "form": form,
            "report": report,
            "run_error": run_error,
        }
        return TemplateResponse(request, "admin/judges/try_panel.html", context)


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("agent", "space", "mu", "sigma", "ordinal", "matches_played", "updated")
    list_filter = ("space",)
    search_fields = ("agent__name", "space__slug")
    raw_id_fields = ("agent", "space")
    readonly_fields = ("agent", "space", "mu", "sigma", "matches_played", "updated")

    @admin.display(description="ordinal (mu - 3 sigma)")
    def ordinal(self, obj):
        return round(obj.ordinal, 3)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Standing)
class StandingAdmin(ReadOnlyAdmin):
    list_display = ("agent", "space", "rank", "strength", "lower", "upper", "matches", "win_rate")
    list_filter = ("space",)
    search_fields = ("agent__name", "space__slug")
    ordering = ("space", "rank", "-strength")
    raw_id_fields = ("agent", "space")


@admin.register(StandingsFit)
class StandingsFitAdmin(ReadOnlyAdmin):
    list_display = ("space", "fitted_at", "matches", "rounds", "length_coef", "converged")
    search_fields = ("space__slug",)
    raw_id_fields = ("space",)
