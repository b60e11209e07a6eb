"""Forms of the match-loop pages. They only collect and check input; services do the work."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.text import capfirst

from agents.models import ALLOWED_TARGET_MODULES, RANGES, Agent, AgentRevision
from agents.revisions import FIELD_LABELS
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
        self.fields["fee_tier"].queryset = space.fee_tiers.filter(retired_at__isnull=True).order_by(
            "fee", "name"
        )


def _number(value: float) -> str:
    return f"{value:g}"


def range_sentence(field: str) -> str:
    """A field's allowed range in words, from the one table of ranges (agents.models.RANGES)."""
    low, high, inclusive = RANGES[field]
    if inclusive:
        return f"from {_number(low)} to {_number(high)}"
    return f"above {_number(low)}, up to {_number(high)}"


def _range_validator(field: str, label: str):
    low, high, inclusive = RANGES[field]

    def check(value) -> None:
        if value is None:
            return
        if value > high or value < low or (not inclusive and value == low):
            raise forms.ValidationError(
                f"{label} must be {range_sentence(field)}; {_number(value)} is not.",
                code="out_of_range",
            )

    return check


def fee_tier_label(tier: FeeTier) -> str:
    """A fee tier named with its space, so the automation choice says where it enters."""
    price = "free" if tier.fee == 0 else f"{tier.fee} credit{'s' if tier.fee != 1 else ''}"
    named = "" if tier.name.lower() in ("free", price) else f" ({tier.name})"
    return f"{tier.space.title}: {price}{named}"


class FeeTierChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: FeeTier) -> str:
        return fee_tier_label(obj)


# What each field means, shown next to it (the range is added from RANGES).
HELP = {
    "system_prompt": "What the agent is told before every task prompt.",
    "share_prompt": "Others see your agent's record either way; its prompt only if you tick this.",
    "temperature": "Sampling randomness; 0 always picks the likeliest token.",
    "top_p": "Nucleus sampling: keep the likeliest tokens up to this total probability.",
    "top_k": "Keep only the k likeliest tokens; 0 turns this off.",
    "max_new_tokens": "The longest answer, in tokens (a space may cap it lower).",
    "repetition_penalty": "Above 1 discourages repeating tokens.",
    "lora_rank": "Size of the LoRA adapter; changing it starts a fresh adapter.",
    "lora_alpha": "LoRA scaling; changing it starts a fresh adapter.",
    "lora_dropout": "Dropout on the LoRA layers while training.",
    "target_modules": (
        f"Which layers the adapter changes, a JSON list from {', '.join(ALLOWED_TARGET_MODULES)}."
    ),
    "load_in_4bit": "Train on a 4-bit (NF4) copy of the base model when a GPU allows.",
    "learning_rate": "Step size of DPO training.",
    "dpo_beta": "How far DPO may move from the base model: lower lets it move more.",
    "epochs": "Passes over the preference pairs per training job.",
    "batch_size": "Pairs per training step.",
    "auto_enter_space": "Enter this space by itself, within the limits below.",
    "auto_fee_tier": "The fee tier automation enters at.",
    "auto_max_matches": "Most matches automation enters in all.",
    "auto_budget": "Most credits automation spends on fees.",
    "note": "What you changed, in a few words, shown in the revision list.",
}
LABELS = {
    **FIELD_LABELS,
    "name": "Name",
    "share_prompt": "Share the system prompt on the public page",
    "auto_enter_space": "Automatic entry: space",
    "auto_fee_tier": "Automatic entry: fee tier",
    "auto_max_matches": "Automatic entry: most matches",
    "auto_budget": "Automatic entry: budget (credits)",
    "note": "Revision note",
}
# The form's fieldsets, in order: (legend, fields).
GROUPS = (
    ("Prompt", ("system_prompt", "share_prompt")),
    ("Generation", ("temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty")),
    (
        "Training",
        (
            "lora_rank",
            "lora_alpha",
            "lora_dropout",
            "target_modules",
            "load_in_4bit",
            "learning_rate",
            "dpo_beta",
            "epochs",
            "batch_size",
        ),
    ),
    ("Automation", ("auto_enter_space", "auto_fee_tier", "auto_max_matches", "auto_budget")),
)


class AgentForm(forms.ModelForm):
    """Validation only (the model's ranges); the view saves through agents.services. Every field
    is labelled in words with its range and meaning next to it; the template shows them in
    ``GROUPS``."""

    target_modules = forms.JSONField(initial=["q_proj", "v_proj"])
    note = forms.CharField(
        max_length=AgentRevision._meta.get_field("note").max_length, required=False
    )

    class Meta:
        model = Agent
        # The service's list is the one list of what a player may set; the form adds the name.
        fields = ["name", *SETTINGS_FIELDS]
        widgets = {"system_prompt": forms.Textarea(attrs={"rows": 4})}
        field_classes = {"auto_fee_tier": FeeTierChoiceField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_enter_space"].queryset = Space.objects.filter(status=Space.Status.OPEN)
        self.fields["auto_fee_tier"].queryset = (
            FeeTier.objects.filter(space__status=Space.Status.OPEN, retired_at=None)
            .select_related("space")
            .order_by("space__title", "fee", "name")
        )
        if self.instance.pk is None:
            del self.fields["note"]  # a new agent's first revision needs no note
        for name, field in self.fields.items():
            field.label = LABELS.get(name, field.label)
            help_text = HELP.get(name, "")
            if name in RANGES:
                low, high, _inclusive = RANGES[name]
                help_text = f"{capfirst(range_sentence(name))}. {help_text}".strip()
                field.validators.append(_range_validator(name, field.label))
                field.widget.attrs.update(
                    {"min": _number(low), "max": _number(high), "step": "any"}
                    if isinstance(field, forms.FloatField)
                    else {"min": _number(low), "max": _number(high)}
                )
            field.help_text = help_text

    def groups(self) -> list[tuple[str, list]]:
        """(legend, bound fields) of each fieldset, for the template."""
        return [(legend, [self[name] for name in names]) for legend, names in GROUPS]

    def fields_with_errors(self) -> list:
        """The bound fields that have errors, to name them at the top of the form."""
        return [self[name] for name in self.fields if self.errors.get(name)]

    def settings(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("name")
        data.pop("note", None)
        return data


class ForkForm(forms.Form):
    name = forms.CharField(max_length=80)
