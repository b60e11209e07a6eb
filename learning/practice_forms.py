"""The practice page's forms: a draft (prompt and generation settings, prefilled from the live
configuration) with its baseline, and the compare form (two sides). They only read the request;
``learning.practice`` checks the values and answers with errors the forms show per field."""

from __future__ import annotations

from django import forms
from django.conf import settings

from agents.models import Agent
from learning.errors import PracticeError, PracticeValidationError
from learning.practice import GENERATION_FIELDS, PROMPT_FIELDS
from learning.practice_selectors import practice_spaces, side_choices


class _PracticeBase(forms.Form):
    space = forms.ChoiceField(label="Space (its training prompts)")
    k = forms.IntegerField(label="Number of prompts", min_value=1)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        most = settings.ARENA_PRACTICE_MAX_PROMPTS
        self.fields["k"].max_value = most
        self.fields["k"].widget.attrs["max"] = most
        self.fields["k"].help_text = f"1 to {most}; each prompt is one game."
        self.fields["k"].initial = min(8, most)
        self.spaces = {s.slug: s for s in practice_spaces()}
        self.fields["space"].choices = [(slug, s.title) for slug, s in self.spaces.items()]
        self.choices = side_choices(owner)

    def chosen_space(self):
        return self.spaces.get(self.cleaned_data["space"])

    def show(self, exc: PracticeError) -> None:
        """Put the service's refusal on the field it names (the whole form otherwise)."""
        if isinstance(exc, PracticeValidationError):
            for key, messages in exc.errors.items():
                name = key.removeprefix("draft.")
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        else:
            self.add_error(None, str(exc))


class DraftForm(_PracticeBase):
    """The draft's prompt and generation settings, the space, K and the baseline."""

    baseline = forms.ChoiceField(label="Against")

    def __init__(self, *args, agent: Agent, **kwargs):
        super().__init__(*args, owner=agent.owner, **kwargs)
        for name in (*PROMPT_FIELDS, *GENERATION_FIELDS):
            field = Agent._meta.get_field(name).formfield()
            field.initial = getattr(agent, name)
            field.required = name != "system_prompt"
            self.fields[name] = field
        self.fields["system_prompt"].widget.attrs["rows"] = 6
        self.fields["baseline"].choices = [
            (token, f"{agent.name} as it is now (live)" if token == f"agent:{agent.pk}" else words)
            for token, words in self.choices
        ]
        self.fields["baseline"].initial = f"agent:{agent.pk}"
        self.order_fields([*PROMPT_FIELDS, *GENERATION_FIELDS, "space", "k", "baseline"])

    def prompt_fields(self):
        return [self[name] for name in PROMPT_FIELDS]

    def generation_fields(self):
        return [self[name] for name in GENERATION_FIELDS]

    def run_fields(self):
        return [self["space"], self["k"], self["baseline"]]

    def draft(self) -> dict:
        values = {name: self.cleaned_data[name] for name in (*PROMPT_FIELDS, *GENERATION_FIELDS)}
        # Browsers send a textarea's line ends as CRLF; the agent form stores LF.
        values["system_prompt"] = (values["system_prompt"] or "").replace("\r\n", "\n")
        return values


class CompareForm(_PracticeBase):
    """Two sides of the owner's: agents (live) or revisions."""

    a = forms.ChoiceField(label="Side A")
    b = forms.ChoiceField(label="Side B")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        self.fields["a"].choices = self.choices
        self.fields["b"].choices = self.choices
        self.order_fields(["a", "b", "space", "k"])
