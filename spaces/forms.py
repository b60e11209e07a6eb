"""Forms for the creator admin."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from spaces import prompt_bank
from spaces.economics import space_check_economics
from spaces.errors import SpaceError
from spaces.models import MAX_HELDOUT_FRACTION, Prompt


class PromptBankUploadForm(forms.Form):
    file = forms.FileField(
        help_text='JSONL (one {"prompt", "reference", "split", "tests"} object per line) or CSV '
        "with a header row prompt[,reference][,split][,tests] (a tests cell holds a JSON array "
        'of Python snippets, e.g. ["assert add(2, 3) == 5"]). A file with any bad row is '
        "refused whole. A prompt of several lines whose lines hold commas goes in JSONL."
    )
    heldout_fraction = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=MAX_HELDOUT_FRACTION,
        decimal_places=3,
        help_text="share of prompts without a split column kept for held-out evaluation; "
        "empty: the space's setting",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Checked before reading it into memory; the service checks the bytes again.
        if upload.size > prompt_bank.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"the file is {upload.size} bytes; at most {prompt_bank.MAX_FILE_BYTES}"
            )
        return upload


class PromptAdminForm(forms.ModelForm):
    """Lets the admin leave the split empty: the prompt's text then decides it."""

    class Meta:
        model = Prompt
        fields = ("space", "text", "reference", "tests", "split")

    split = forms.ChoiceField(
        required=False,
        choices=[("", "decide from the text (held-out fraction)"), *prompt_bank.SPLIT_CHOICES],
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("split"):
            space = cleaned.get("space") or getattr(self.instance, "space", None)
            text = (cleaned.get("text") or self.instance.text or "").strip()
            if space is not None and text:
                cleaned["split"] = prompt_bank.assign_split(text, space.heldout_fraction)
        return cleaned


class SpaceAdminForm(forms.ModelForm):
    """The space change form: the services' refusal of economics changes (platform rake by a
    creator, any economics while players are in the space) shows on the fields, before anything
    is saved. The admin sets ``actor`` to the requesting user."""

    # The model and fields come from the admin (its fieldsets), and so does ``actor``: left
    # unset, the check refuses with TypeError rather than acting as the platform.
    actor = None

    def full_clean(self):
        # Not in clean(): that runs before the model's own validation fills the instance and
        # normalizes it (payout shares typed as numbers become the decimal strings stored), and
        # the check compares the instance with the stored row. After the whole validation, the
        # instance holds exactly what the service would compare.
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        if self.empty_permitted and not self.has_changed():
            return  # Django skips validating such a form altogether
        try:
            space_check_economics(space=self.instance, actor=self.actor)
        except SpaceError as exc:
            for field, messages in exc.field_errors.items():
                self.add_error(field if field in self.fields else None, messages)


class FeeTierInlineFormSet(forms.BaseInlineFormSet):
    """Fee tiers are economics too: refused whole while players are in the space."""

    actor = None  # set by the admin, as on SpaceAdminForm

    def clean(self):
        super().clean()
        if self.instance.pk is None or not self.has_changed():  # a ticked delete is a change
            return
        try:
            space_check_economics(space=self.instance, actor=self.actor, fee_tiers_changed=True)
        except SpaceError as exc:
            if "fee_tiers" in exc.field_errors:
                raise forms.ValidationError(
                    [f"Fee tiers: {m}" for m in exc.field_errors["fee_tiers"]]
                ) from None
