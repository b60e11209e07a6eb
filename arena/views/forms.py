"""Forms of the match-loop pages. They only collect and check input; services do the work."""

from __future__ import annotations

import uuid

from django import forms

from agents.models import Agent
from agents.services import SETTINGS_FIELDS
from spaces.models import FeeTier, Space


class EnterForm(forms.Form):
    agent = forms.ModelChoiceField(queryset=Agent.objects.none())
    fee_tier = forms.ModelChoiceField(queryset=None, empty_label=None)
    # Generated when the page renders: a double-submitted form makes one entry, not two.
    key = forms.CharField(widget=forms.HiddenInput, max_length=120)

    def __init__(self, *args, user, space, **kwargs):
        kwargs.setdefault("initial", {})["key"] = f"web:{uuid.uuid4().hex}"
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = Agent.objects.filter(owner=user).order_by("name")
        self.fields["fee_tier"].queryset = space.fee_tiers.order_by("fee", "name")


class AgentForm(forms.ModelForm):
    """Validation only (the model's ranges); the view saves through agents.services."""

    target_modules = forms.JSONField(
        initial=["q_proj", "v_proj"], help_text='JSON list, e.g. ["q_proj", "v_proj"]'
    )

    class Meta:
        model = Agent
        # The service's list is the one list of what a player may set; the form adds the name.
        fields = ["name", *SETTINGS_FIELDS]
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_enter_space"].queryset = Space.objects.filter(status=Space.Status.OPEN)
        self.fields["auto_fee_tier"].queryset = FeeTier.objects.filter(
            space__status=Space.Status.OPEN
        ).select_related("space")

    def settings(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("name")
        return data


class ForkForm(forms.Form):
    name = forms.CharField(max_length=80)
