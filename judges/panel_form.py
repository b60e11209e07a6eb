"""The judge panel as rows of a form (the space editor's panel builder), instead of raw JSON.

Each row is one judge: its kind, weight and shadow flag, and its kind's own options, read from
the kind's config model (``judges.config.KIND_CONFIGS``), so a new option shows up here without
a change. A row posts only what was typed: an option left empty keeps the kind's default and is
not stored, so a panel edited and saved unchanged stores exactly what it held. The values are
judged by the one panel check (``judges.config``, through the space's validation); this module
only turns the rows into the list a space stores, and back."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from judges.config import KIND_CONFIGS, MAX_JUDGES, MODE_OF_KEY, JudgeConfig

COMMON_KEYS = ("kind", "weight", "shadow")
KIND_WORDS = {
    "verifier": "verifier: checks each answer against the reference or tests",
    "pairwise-llm": "pairwise LLM: the local model compares the answers two by two",
    "score-llm": "score LLM: the local model scores each answer by your rubric",
    "http-llm": "HTTP LLM: an OpenAI-compatible endpoint compares the answers",
}
OPTION_LABELS = {
    "mode": "Mode",
    "tolerance": "Absolute tolerance",
    "rel_tolerance": "Relative tolerance",
    "pattern": "Pattern (regular expression)",
    "match": "Match",
    "case_sensitive": "Case sensitive",
    "timeout_s": "Time limit (seconds)",
    "schema": "JSON Schema",
    "instructions": "Instructions to the judge",
    "max_answer_chars": "Longest answer read (characters)",
    "tie_margin": "Tie margin (nats)",
    "rubric": "Rubric",
    "base_url": "Endpoint URL",
    "model": "Model name",
    "api_key_env": "API key variable",
    "max_retries": "Retries",
}
LONG_TEXT = {"instructions", "rubric", "schema"}
BOOL_CHOICES = [("", "default"), ("true", "yes"), ("false", "no")]


@dataclass(frozen=True)
class Option:
    """One option of a kind, as a row shows it."""

    key: str  # the key a creator writes (an alias where the field has one)
    label: str
    help: str
    kind: str  # "choice", "bool", "int", "number", "decimal", "text", "long", "json"
    choices: tuple[str, ...] = ()
    default: str = ""


def _type_of(annotation: Any) -> tuple[str, tuple[str, ...]]:
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", tuple(typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_of(typing.get_args(annotation)[0])
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "number", ()
    if annotation is Decimal:
        return "decimal", ()
    if typing.get_origin(annotation) is dict or annotation is dict:
        return "json", ()
    return "text", ()


def _default_text(info: Any) -> str:
    if info.is_required():
        return ""
    default = info.get_default(call_default_factory=True)
    if default in ("", {}, None):
        return ""
    if isinstance(default, bool):
        return "yes" if default else "no"
    return str(default)


def kind_options(model: type[JudgeConfig]) -> list[Option]:
    options = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in COMMON_KEYS:
            continue
        kind, choices = _type_of(info.annotation)
        if kind == "text" and key in LONG_TEXT:
            kind = "long"
        help_text = info.description or ""
        if key in MODE_OF_KEY and model is KIND_CONFIGS["verifier"]:
            help_text = f"mode {MODE_OF_KEY[key]} only; {help_text}".rstrip("; ")
        if info.is_required():
            help_text = f"required; {help_text}".rstrip("; ")
        options.append(
            Option(
                key=key,
                label=OPTION_LABELS.get(key, key.replace("_", " ").capitalize()),
                help=help_text,
                kind=kind,
                choices=choices,
                default=_default_text(info),
            )
        )
    return options


KIND_OPTIONS = {kind: kind_options(model) for kind, model in KIND_CONFIGS.items()}


def _field_name(name: str, index: int, key: str, kind: str | None = None) -> str:
    return f"{name}-{index}-{kind}-{key}" if kind else f"{name}-{index}-{key}"


def _typed(option: Option, raw: str) -> Any:
    """What a typed option means in the config; text the check cannot take is passed on as it
    is, so the check's message (naming the judge and the option) says what is wrong."""
    raw = raw.replace("\r\n", "\n")
    try:
        if option.kind == "bool":
            return raw == "true"
        if option.kind == "int":
            return int(raw)
        if option.kind == "number":
            return float(raw)
        if option.kind == "json":
            return json.loads(raw)
    except ValueError:
        return raw
    return raw  # choices, text, and decimals (stored as decimal strings)


def _shown(option: Option, value: Any) -> str:
    if option.kind == "bool":
        return "true" if value else "false"
    if option.kind == "json":
        return json.dumps(value, indent=2)
    return str(value)


def rows_from_data(data: Any, name: str) -> list[dict[str, Any]]:
    """The panel the rows posted in ``data`` (a QueryDict or dict) describe."""
    panel = []
    for index in range(MAX_JUDGES):
        kind = (data.get(_field_name(name, index, "kind")) or "").strip()
        if not kind:
            continue  # an unused row
        config: dict[str, Any] = {"kind": kind}
        weight = (data.get(_field_name(name, index, "weight")) or "").strip()
        if weight:
            config["weight"] = int(weight) if weight.isdigit() else weight
        shadow = data.get(_field_name(name, index, "shadow")) or ""
        if shadow in ("true", "false"):
            config["shadow"] = shadow == "true"
        for option in KIND_OPTIONS.get(kind, []):
            raw = data.get(_field_name(name, index, option.key, kind)) or ""
            if raw.strip():
                config[option.key] = _typed(option, raw)
        panel.append(config)
    return panel


def panel_post_data(panel: list[dict[str, Any]], name: str = "judge_panel") -> dict[str, str]:
    """The POST data of rows showing ``panel`` (what a browser sends for it unchanged)."""
    data: dict[str, str] = {}
    for index, config in enumerate(panel):
        kind = config.get("kind", "")
        data[_field_name(name, index, "kind")] = kind
        if "weight" in config:
            data[_field_name(name, index, "weight")] = str(config["weight"])
        if "shadow" in config:
            data[_field_name(name, index, "shadow")] = "true" if config["shadow"] else "false"
        for option in KIND_OPTIONS.get(kind, []):
            if option.key in config:
                data[_field_name(name, index, option.key, kind)] = _shown(
                    option, config[option.key]
                )
    return data


class PanelWidget(forms.Widget):
    """Rows of judges: as many as the panel holds, plus empty ones up to MAX_JUDGES (two at
    least), so a judge is added without script."""

    template_name = "admin/judges/panel_widget.html"

    def value_from_datadict(self, data, files, name):
        return rows_from_data(data, name)

    def value_omitted_from_data(self, data, files, name):
        return not any(key.startswith(f"{name}-") for key in data)

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = []
        return value if isinstance(value, list) else []

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        panel = context["widget"]["value"]
        shown = min(MAX_JUDGES, max(len(panel) + 1, 2))
        rows = []
        for index in range(shown):
            config = panel[index] if index < len(panel) and isinstance(panel[index], dict) else {}
            kind = config.get("kind", "")
            rows.append(
                {
                    "number": index + 1,
                    "kind_name": _field_name(name, index, "kind"),
                    "kind": kind,
                    "weight_name": _field_name(name, index, "weight"),
                    "weight": config.get("weight", ""),
                    "shadow_name": _field_name(name, index, "shadow"),
                    "shadow": {True: "true", False: "false"}.get(config.get("shadow"), ""),
                    "groups": [
                        {
                            "kind": group_kind,
                            "words": KIND_WORDS.get(group_kind, group_kind),
                            "active": group_kind == kind,
                            "options": [
                                {
                                    "option": option,
                                    "name": _field_name(name, index, option.key, group_kind),
                                    "id": f"id_{_field_name(name, index, option.key, group_kind)}",
                                    "value": _shown(option, config[option.key])
                                    if group_kind == kind and option.key in config
                                    else "",
                                }
                                for option in options
                            ],
                        }
                        for group_kind, options in KIND_OPTIONS.items()
                    ],
                }
            )
        context["widget"].update(
            rows=rows,
            kinds=[(k, KIND_WORDS.get(k, k)) for k in KIND_OPTIONS],
            bool_choices=BOOL_CHOICES,
        )
        return context


class PanelField(forms.Field):
    """The panel as rows; the space's validation (the judges' one check) judges the list."""

    widget = PanelWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Judge panel")
        kwargs.setdefault(
            "help_text",
            "One row per judge. Weight: how much its score counts (1 to 100, default 1). "
            "Shadow: it judges every match and is measured, but never counts. Options left "
            "empty keep the kind's default (shown in grey).",
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return value or []

    def validate(self, value):
        if not value:
            raise forms.ValidationError("Judge panel: choose the kind of at least one judge")

    def has_changed(self, initial, data):
        return self.widget.format_value(initial) != data
