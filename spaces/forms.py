"""Forms for the creator admin."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from spaces import prompt_bank, validation
from spaces.economics import space_check_economics
from spaces.errors import SpaceError
from spaces.models import (
    BPS,
    MAX_AGENTS_PER_MATCH,
    MAX_HELDOUT_FRACTION,
    MAX_TOTAL_RAKE_BPS,
    Prompt,
)

# --- the space editor ("creator's studio"): real fields for the JSON parts ----------------------

PLACES = MAX_AGENTS_PER_MATCH  # one share input per place a match can have
PERCENT = Decimal(100)


def place_name(place: int) -> str:
    """1 -> "1st place", 2 -> "2nd place", 11 -> "11th place"."""
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix} place"


def share_field_name(place: int) -> str:
    return f"payout_share_{place}"


def percent(value: Decimal) -> str:
    """A Decimal as a short percentage figure: Decimal("0.6") -> "60"."""
    text = format((value * PERCENT).normalize(), "f")
    return text


def _number_field(label: str, low: int, high: int, help_text: str) -> forms.IntegerField:
    # The messages say which field, in words, so they read well in a summary too.
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        help_text=f"{help_text} ({low} to {high})",
        error_messages={
            "required": f"{label}: enter a whole number from {low} to {high}",
            "invalid": f"{label}: enter a whole number from {low} to {high}",
            "min_value": f"{label} must be at least {low}",
            "max_value": f"{label} must be at most {high}",
        },
    )


def _percent_field(label: str, high: Decimal, help_text: str, required=True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_value=high,
        decimal_places=4,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "class": "studio-percent"}),
        error_messages={
            "required": f"{label}: enter a percentage from 0 to {high:g}",
            "invalid": f"{label}: enter a percentage from 0 to {high:g}",
            "min_value": f"{label} must be at least 0%",
            "max_value": f"{label} must be at most {high:g}%",
            "max_decimal_places": f"{label}: at most 4 decimal places",
            "max_digits": f"{label}: too many digits",
        },
    )


# Words for the keys the validators name, so a message shown on a page names the field as its
# label does (validation.py speaks of the stored keys: the API shows those).
RULE_LABELS = {
    "answer_format": "Answer format",
    "max_new_tokens_cap": "Longest answer (tokens)",
    "max_chars": "Longest answer kept (characters)",
    "banned_substrings": "Banned text",
    "injection_policy": "Answers that address the judge",
}
KEY_WORDS = {
    **RULE_LABELS,
    "payout_shares": "Payout shares",
    "creator_rake_bps": "Creator rake",
    "platform_rake_bps": "Platform rake",
    "judge_panel": "Judge panel",
    "agents_per_match": "Agents per match",
    "subsidy": "Subsidy",
    "fee_tiers": "Fee tiers",
}
# Where a model or service error on a stored key shows in the editor.
FIELD_OF_KEY = {
    "creator_rake_bps": "creator_rake",
    "platform_rake_bps": "platform_rake",
    "payout_shares": share_field_name(1),
}
_SHARE_INDEX = re.compile(r"payout_shares\[(\d+)\]")
_JUDGE_INDEX = re.compile(r"judge_panel\[(\d+)\]")
_BPS = re.compile(r"(\d+) bps")


def in_words(message: str) -> str:
    """A validator's message with the stored keys named as the editor's labels."""
    message = _SHARE_INDEX.sub(lambda m: f"the {place_name(int(m.group(1)) + 1)} share", message)
    message = _JUDGE_INDEX.sub(lambda m: f"judge {int(m.group(1)) + 1}", message)
    message = _BPS.sub(lambda m: f"{Decimal(m.group(1)) / 100:g}%", message)
    for key, words in KEY_WORDS.items():
        # At the start of a sentence the label keeps its capital.
        message = re.sub(rf"^{key}\b", words, message)
        message = re.sub(rf"\b{key}\b", words.lower(), message)
    return message


_ShareFields = type(
    "_ShareFields",
    (forms.Form,),
    {
        share_field_name(place): _percent_field(
            f"{place_name(place).capitalize()} (%)",
            PERCENT,
            "share of the prize pool (the pot after the rakes) for this place"
            if place == 1
            else "",
            required=place == 1,
        )
        for place in range(1, PLACES + 1)
    },
)


class SpaceStudioForm(_ShareFields, forms.ModelForm):
    """The space editor: rules, payout shares and rakes as labelled fields with their ranges.

    The form builds exactly the values the JSON fields held (rules dict, payout share strings,
    rakes in basis points) and leaves judging them to the model's validation, the one the API
    and the services run, so the editor cannot store what they would refuse. A share left as it
    was keeps its stored string ("0.60" stays "0.60"): a value that only looks different would
    count as an economics change and be refused in an open space."""

    # The admin gives the model and the fields (its fieldsets), and ``actor``: left unset, the
    # economics check refuses with TypeError rather than acting as the platform.
    actor = None

    answer_format = forms.ChoiceField(
        label=RULE_LABELS["answer_format"],
        choices=[
            ("free", "free text"),
            ("number", "a number"),
            ("single_line", "one line (the first non-empty line is kept)"),
        ],
        help_text="what an answer must look like; a number answer without a digit is disqualified",
    )
    max_new_tokens_cap = _number_field(
        RULE_LABELS["max_new_tokens_cap"],
        1,
        validation.MAX_NEW_TOKENS_CAP,
        "the most tokens an agent may generate for one answer",
    )
    max_chars = _number_field(
        RULE_LABELS["max_chars"],
        1,
        validation.MAX_CHARS_LIMIT,
        "longer answers are cut to this many characters before judging",
    )
    banned_substrings = forms.CharField(
        label=RULE_LABELS["banned_substrings"],
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=f"one per line, compared ignoring case; an answer containing one is "
        f"disqualified (at most {validation.MAX_BANNED_SUBSTRINGS} lines of at most "
        f"{validation.MAX_BANNED_SUBSTRING_CHARS} characters)",
    )
    injection_policy = forms.ChoiceField(
        label=RULE_LABELS["injection_policy"],
        choices=[
            ("review", "review: only mark them for staff"),
            ("penalty", "penalty: rank them after every clean answer"),
            ("disqualify", "disqualify: rank them last and take their prize away"),
        ],
        help_text="what an answer that tries to instruct the judge costs",
    )
    creator_rake = _percent_field(
        "Creator rake (%)",
        Decimal(MAX_TOTAL_RAKE_BPS) / 100,
        "your cut of every pot, as a percentage (0.01% steps); creator and platform rakes "
        f"together at most {MAX_TOTAL_RAKE_BPS / 100:g}%",
    )
    platform_rake = _percent_field(
        "Platform rake (%)",
        Decimal(MAX_TOTAL_RAKE_BPS) / 100,
        "the platform's cut of every pot, as a percentage; set by platform staff",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_initial()

    # --- stored values -> fields ------------------------------------------------------------

    def _set_initial(self) -> None:
        space = self.instance
        rules = {**validation.DEFAULT_RULES, **(space.rules or {})}
        for key in RULE_LABELS:
            value = rules[key]
            if key == "banned_substrings":
                value = "\n".join(value)
            self.initial.setdefault(key, value)
        for place, share in enumerate(space.payout_shares or [], start=1):
            if place <= PLACES:
                self.initial.setdefault(share_field_name(place), percent(Decimal(str(share))))
        self.initial.setdefault("creator_rake", percent(Decimal(space.creator_rake_bps) / BPS))
        self.initial.setdefault("platform_rake", percent(Decimal(space.platform_rake_bps) / BPS))

    # --- fields -> the values to store ----------------------------------------------------------

    def _rules(self, data: dict) -> dict | None:
        if any(key not in data for key in RULE_LABELS):
            return None  # a field's own error is shown; the stored rules stay for the check
        banned = [line.rstrip("\r") for line in data["banned_substrings"].split("\n")]
        return {
            "answer_format": data["answer_format"],
            "max_new_tokens_cap": data["max_new_tokens_cap"],
            "max_chars": data["max_chars"],
            "banned_substrings": [line for line in banned if line.strip()],
            "injection_policy": data["injection_policy"],
        }

    def _shares(self, data: dict) -> list[str] | None:
        names = [share_field_name(place) for place in range(1, PLACES + 1)]
        if any(self.has_error(name) for name in names):
            return None
        values = [data.get(name) for name in names]
        while values and values[-1] is None:
            values.pop()
        if None in values:
            gap = values.index(None) + 1
            self.add_error(
                share_field_name(gap),
                f"{place_name(gap).capitalize()}: enter a share (0 is fine) or clear the "
                "places after it",
            )
            return None
        total = sum(values, Decimal(0))
        if total != PERCENT:
            self.add_error(
                names[0],
                f"Payout shares add up to {total.normalize():f}%; they must add up to exactly 100%",
            )
            return None
        for place in range(2, len(values) + 1):
            if values[place - 1] > values[place - 2]:
                self.add_error(
                    share_field_name(place),
                    f"{place_name(place).capitalize()} ({values[place - 1].normalize():f}%) "
                    f"would win more than {place_name(place - 1)} "
                    f"({values[place - 2].normalize():f}%): a better place never wins less",
                )
                return None
        stored = list(self.instance.payout_shares or [])
        shares = []
        for place, value in enumerate(values, start=1):
            before = stored[place - 1] if place <= len(stored) else None
            if before is not None and _same_number(before, value / PERCENT):
                shares.append(before)
            else:
                shares.append(format((value / PERCENT).normalize(), "f"))
        return shares

    def _bps(self, name: str, value: Decimal) -> int | None:
        bps = value * 100
        if bps != bps.to_integral_value():
            self.add_error(name, f"{self.fields[name].label}: at most 2 decimal places (0.01%)")
            return None
        return int(bps)

    def clean(self):
        cleaned = super().clean()
        space = self.instance
        rules = self._rules(cleaned)
        if rules is not None:
            space.rules = rules
        shares = self._shares(cleaned)
        if shares is not None:
            space.payout_shares = shares
        for name, attr in (
            ("creator_rake", "creator_rake_bps"),
            ("platform_rake", "platform_rake_bps"),
        ):
            if name in self.fields and cleaned.get(name) is not None:
                bps = self._bps(name, cleaned[name])
                if bps is not None:
                    setattr(space, attr, bps)
        return cleaned

    # --- errors from the model's checks and the economics, on the editor's fields -------------

    def _field_for(self, key: str, message: str) -> str | None:
        if key in RULE_LABELS or key == "rules":
            for rule in RULE_LABELS:
                if message.startswith(rule) or rule in message:
                    return rule
            return "answer_format"
        if key == "payout_shares":
            found = _SHARE_INDEX.search(message)
            place = int(found.group(1)) + 1 if found else 1
            over = re.match(r"(\d+) shares for a match of (\d+) agents", message)
            if over:
                place = int(over.group(2)) + 1
            return share_field_name(min(place, PLACES))
        name = FIELD_OF_KEY.get(key, key)
        return name if name in self.fields else None

    def add_stored_errors(self, field_errors: dict[str, list[str]]) -> None:
        for key, messages in field_errors.items():
            for message in messages:
                text = in_words(message)
                field = self._field_for(key, message)
                if field is None and key in KEY_WORDS:
                    text = f"{KEY_WORDS[key]}: {text}"
                self.add_error(field, text)

    def _update_errors(self, errors):
        # The model's clean() speaks of its stored keys (rules, payout_shares, ...), which are
        # not fields here: each message goes to the field that holds its value.
        if not hasattr(errors, "error_dict"):
            return super()._update_errors(errors)
        by_key = {
            key: [m for e in errs for m in e.messages] for key, errs in errors.error_dict.items()
        }
        mine = {k: v for k, v in by_key.items() if k in self.fields and k not in FIELD_OF_KEY}
        for key, messages in mine.items():
            for message in messages:
                self.add_error(key, in_words(message) if key == "judge_panel" else message)
        self.add_stored_errors({k: v for k, v in by_key.items() if k not in mine})
        return None

    def full_clean(self):
        # Not in clean(): that runs before the model's own validation fills the instance and
        # normalizes it, and the check compares the instance with the stored row. After the
        # whole validation, the instance holds exactly what the service would compare.
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        if self.empty_permitted and not self.has_changed():
            return  # Django skips validating such a form altogether
        try:
            space_check_economics(space=self.instance, actor=self.actor)
        except SpaceError as exc:
            self.add_stored_errors(exc.field_errors)


def _same_number(stored: str, value: Decimal) -> bool:
    try:
        return Decimal(str(stored)) == value
    except ArithmeticError:
        return False


SpaceAdminForm = SpaceStudioForm  # the name the admin and older code know


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
