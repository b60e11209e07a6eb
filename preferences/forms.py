"""The export page's filters (``/spaces/<slug>/export/``), as labelled fields with ranges; the
values are checked again by ``export_spec``, the one check of an export's filters."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from preferences.export_spec import PAIR_FORMATS, STREAMED_FORMATS

FORMAT_WORDS = {
    "trl": "trl: prompt, chosen, rejected (DPO)",
    "trl-chat": "trl-chat: the same as chat messages",
    "kto": "kto: one row per answer, labelled desirable or not",
    "battles": "battles: every judged pair of seats, ties included",
}


def _fraction(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1),
        decimal_places=4,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
        error_messages={
            "invalid": f"{label}: enter a number from 0 to 1",
            "min_value": f"{label} must be at least 0",
            "max_value": f"{label} must be at most 1",
            "max_decimal_places": f"{label}: at most 4 decimal places",
        },
    )


class ExportFilterForm(forms.Form):
    fmt = forms.ChoiceField(
        label="Format",
        choices=[(fmt, FORMAT_WORDS.get(fmt, fmt)) for fmt in STREAMED_FORMATS],
        initial="trl",
        help_text="parquet and hf folders are made with the export_preferences command",
    )
    since = forms.DateField(
        label="Settled on or after",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="a date (YYYY-MM-DD); empty: from the first match",
        error_messages={"invalid": "Settled on or after: enter a date as YYYY-MM-DD"},
    )
    until = forms.DateField(
        label="Settled up to and including",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="a date (YYYY-MM-DD); empty: up to now",
        error_messages={"invalid": "Settled up to and including: enter a date as YYYY-MM-DD"},
    )
    min_margin = _fraction(
        "Smallest margin",
        "pair formats only: keep pairs whose panel totals differ by at least this (0 to 1)",
    )
    min_agreement = _fraction(
        "Smallest agreement",
        "pair formats only: keep pairs the judges and orders agreed on at least this share "
        "of (0 to 1)",
    )
    include_system_prompt = forms.BooleanField(
        label="Include the agents' system prompts",
        required=False,
        help_text="trl-chat and battles: the system message each agent answered under",
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "Settled up to and including: a date on or after the first")
        fmt = cleaned.get("fmt")
        if fmt and fmt not in PAIR_FORMATS:
            for name in ("min_margin", "min_agreement"):
                if cleaned.get(name) is not None:
                    self.add_error(
                        name,
                        f"{self.fields[name].label}: applies to the pair formats only, not "
                        f"{fmt} (its rows are every judged pair, ties included)",
                    )
        return cleaned

    def query(self) -> dict[str, str]:
        """The filters as the download's query parameters (``preferences.views``)."""
        data = self.cleaned_data
        query = {}
        for name in ("since", "until"):
            if data.get(name):
                query[name] = data[name].isoformat()
        for name in ("min_margin", "min_agreement"):
            if data.get(name) is not None:
                query[name] = str(data[name])
        if data.get("include_system_prompt"):
            query["include_system_prompt"] = "1"
        return query
