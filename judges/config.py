"""What a judge panel may hold: one typed model per judge kind, the panel, and the errors a
creator reads. This is the one definition of a valid judge config: ``run_panel`` checks a panel
with it before judging, and spaces checks a panel with it when a space is saved
(``SpacePanelChecker``, which ``JudgesConfig.ready()`` registers with spaces).

Each kind's model refuses unknown keys and values of the wrong type (``strict``: "2" is not 2,
true is not 1), and says what its judge needs on every prompt (``needs_reference``,
``needs_tests``). The stored form of a judge (``JudgeConfig.canonical()``) holds its kind, the
keys the creator gave, and the defaults its mode runs with that stored configs rely on (a
numeric verifier's ``tolerance``, a tests verifier's ``timeout_s``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar, get_args
from urllib.parse import urlsplit

import regex
from django.core.exceptions import ValidationError as DjangoValidationError
from jsonschema import Draft202012Validator, SchemaError, validators
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from judges.errors import JudgeConfigError
from spaces.hooks import JudgeNeeds
from spaces.validation import parse_decimal

MAX_JUDGES = 8
MAX_WEIGHT = 100

VERIFIER_MODES = ("exact", "numeric", "regex", "tests", "json_schema")
TESTS_MODE = "tests"
JSON_SCHEMA_MODE = "json_schema"
MAX_SCHEMA_CHARS = 20_000  # the schema as compact JSON
DEFAULT_TIMEOUT_S = 2
MAX_TIMEOUT_S = 10
REGEX_MATCH = ("fullmatch", "search")
REFERENCE_SLOT = "{reference}"  # in a regex pattern: this prompt's reference, escaped
MAX_PATTERN_CHARS = 500

MAX_INSTRUCTIONS_CHARS = 2000
DEFAULT_INSTRUCTIONS = (
    "You are a fair and strict judge. You compare two answers to the same task and decide "
    "which one is better: more correct, more helpful, and closer to what the task asks. "
    "Ignore the order in which the answers are shown. Reply with a single letter: A or B."
)
DEFAULT_MAX_ANSWER_CHARS = 2000
MIN_ANSWER_CHARS = 100
MAX_ANSWER_CHARS = 20_000
# A pairwise pair is a tie when the debiased log-odds margin is below this (in nats): 0.1 nats
# is a preference of about 52.5% to 47.5%, which the judge's noise can produce on its own.
DEFAULT_TIE_MARGIN = 0.1
MAX_TIE_MARGIN = 5.0

HTTP_TIMEOUT_S = 30
MAX_HTTP_TIMEOUT_S = 120
HTTP_RETRIES = 2
MAX_HTTP_RETRIES = 5
MAX_URL_CHARS = 500
MAX_MODEL_CHARS = 200
# The only environment variables an http-llm judge may read its key from: a creator names one,
# and a name such as DJANGO_SECRET_KEY would send the server's secret to the creator's endpoint.
API_KEY_ENV_PREFIX = "ARENA_JUDGE_KEY_"
DEFAULT_HTTP_RUBRIC = (
    "Decide which answer is better: more correct, more helpful, and closer to what the task "
    "asks. Ignore the order in which the answers are shown, and their length as such."
)


def _decimal_text(value: Any, info: ValidationInfo) -> Decimal:
    """A non-negative finite decimal from a string. Floats are refused: 0.1 is not exactly one
    tenth."""
    what = info.field_name
    try:
        number = parse_decimal(value, what)  # the parsing spaces use for payout shares
    except DjangoValidationError as exc:
        raise ValueError(exc.messages[0]) from None
    if number < 0:
        raise ValueError(f"{what} must be >= 0, not {number}")
    return number


# Held as a Decimal (exact arithmetic), stored as its decimal string.
DecimalText = Annotated[
    Decimal, PlainValidator(_decimal_text), PlainSerializer(str, return_type=str)
]


class JudgeConfig(BaseModel):
    """What every judge config has. A kind's model narrows ``kind`` to its name, adds its own
    fields (each with a ``description`` that error messages quote) and its requirements."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: str
    weight: int = Field(1, ge=1, le=MAX_WEIGHT, description=f"an integer from 1 to {MAX_WEIGHT}")
    # A shadow judge runs on every match and its verdict is stored and measured (the judge
    # report gives its accuracy against the panel's verifier), but its points never count
    # toward the ranking, the payout or the preference pairs: how a creator tries an LLM
    # judge on a checkable space before trusting it with money.
    shadow: bool = Field(False, description="true or false")

    @property
    def needs_reference(self) -> bool:
        """Whether every prompt needs a reference answer for this judge."""
        return False

    @property
    def needs_tests(self) -> bool:
        """Whether every prompt needs tests (Python snippets run on the answer's code)."""
        return False

    @property
    def label(self) -> str:
        """The judge in a sentence: "verifier in mode numeric"."""
        return self.kind

    def stored_defaults(self) -> set[str]:
        """Fields stored even when the creator left them out: stored configs rely on them."""
        return set()

    @classmethod
    def key_of(cls, field: str) -> str:
        """The key a creator writes for a field (its alias when it has one)."""
        return cls.model_fields[field].alias or field

    def canonical(self) -> dict[str, Any]:
        """The stored form: kind first, the keys given and the stored defaults, weight last."""
        keys = (self.model_fields_set | self.stored_defaults()) - {"kind", "weight"}
        out = {"kind": self.kind, **self.model_dump(mode="json", include=keys, by_alias=True)}
        if "weight" in self.model_fields_set:
            out["weight"] = self.weight
        return out


C = TypeVar("C", bound=JudgeConfig)

# A verifier's optional fields, each with the one mode it applies to.
MODE_OF_KEY = {
    "tolerance": "numeric",
    "rel_tolerance": "numeric",
    "pattern": "regex",
    "match": "regex",
    "case_sensitive": "exact",
    "timeout_s": TESTS_MODE,
    "json_schema": JSON_SCHEMA_MODE,
}


def check_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema a creator gave, checked against its dialect's metaschema (draft 2020-12
    unless it names another in ``$schema``), or ValueError saying what is wrong."""
    try:
        size = len(json.dumps(schema, separators=(",", ":")))
    except (TypeError, ValueError):
        raise ValueError("schema must be a JSON object") from None
    if size > MAX_SCHEMA_CHARS:
        raise ValueError(f"schema must be at most {MAX_SCHEMA_CHARS} characters of JSON")
    validator = validators.validator_for(schema, default=None)
    if validator is None:
        if "$schema" in schema:
            raise ValueError(f"schema names an unknown $schema {_shown(schema['$schema'])}")
        validator = Draft202012Validator
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise ValueError(
            f"schema is not a valid JSON Schema: {exc.message}"
            + (f" (at {where})" if where else "")
        ) from None
    return schema


class VerifierConfig(JudgeConfig):
    """``verifier``: each answer right or wrong against the reference (``judges.kinds.verifier``
    says how each mode decides)."""

    kind: Literal["verifier"]
    mode: Literal[VERIFIER_MODES] = Field(description=f"one of {', '.join(VERIFIER_MODES)}")
    tolerance: DecimalText = Decimal(0)
    rel_tolerance: DecimalText = Decimal(0)
    pattern: str = Field(
        "",
        min_length=1,
        max_length=MAX_PATTERN_CHARS,
        description=f"a non-empty regular expression of at most {MAX_PATTERN_CHARS} characters",
    )
    match: Literal[REGEX_MATCH] = Field("fullmatch", description=f"one of {', '.join(REGEX_MATCH)}")
    case_sensitive: bool = Field(False, description="true or false")
    timeout_s: int = Field(
        DEFAULT_TIMEOUT_S,
        ge=1,
        le=MAX_TIMEOUT_S,
        description=f"a whole number of seconds from 1 to {MAX_TIMEOUT_S}",
    )
    # "schema" would shadow pydantic's BaseModel.schema, hence the alias: creators write schema.
    json_schema: dict[str, Any] = Field(
        default_factory=dict, alias="schema", description="a JSON Schema object"
    )

    @field_validator("json_schema")
    @classmethod
    def _schema_is_valid(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return check_json_schema(schema)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        # The engine and flags the judge runs it with, so what is stored is what runs.
        try:
            regex.compile(pattern.replace(REFERENCE_SLOT, "x"), regex.VERSION0)
        except regex.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _keys_fit_the_mode(self) -> Self:
        problems = [
            f"{self.key_of(field)} only applies to mode {mode}"
            for field, mode in MODE_OF_KEY.items()
            if field in self.model_fields_set and self.mode != mode
        ]
        if self.mode == "regex" and "pattern" not in self.model_fields_set:
            problems.append("a regex verifier needs a pattern string")
        if self.mode == JSON_SCHEMA_MODE and "json_schema" not in self.model_fields_set:
            problems.append("a json_schema verifier needs a schema (a JSON Schema object)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def needs_reference(self) -> bool:
        return self.mode not in (TESTS_MODE, JSON_SCHEMA_MODE)

    @property
    def needs_tests(self) -> bool:
        return self.mode == TESTS_MODE

    @property
    def label(self) -> str:
        return f"verifier in mode {self.mode}"

    def stored_defaults(self) -> set[str]:
        return {"numeric": {"tolerance"}, TESTS_MODE: {"timeout_s"}}.get(self.mode, set())


def _instructions_field(default: Any) -> Any:
    return Field(
        default,
        max_length=MAX_INSTRUCTIONS_CHARS,
        description=f"a non-empty string of at most {MAX_INSTRUCTIONS_CHARS} characters",
    )


def _not_blank(text: str, info: ValidationInfo) -> str:
    if not text.strip():
        raise ValueError(
            f"{info.field_name} must be a non-empty string of at most {MAX_INSTRUCTIONS_CHARS} "
            "characters, not blank"
        )
    return text


def _max_answer_chars_field() -> Any:
    return Field(
        DEFAULT_MAX_ANSWER_CHARS,
        ge=MIN_ANSWER_CHARS,
        le=MAX_ANSWER_CHARS,
        description=f"an integer from {MIN_ANSWER_CHARS} to {MAX_ANSWER_CHARS}",
    )


class PairwiseLLMConfig(JudgeConfig):
    """``pairwise-llm``: the local model compares every pair of answers in both orders
    (``judges.kinds.pairwise_llm``)."""

    kind: Literal["pairwise-llm"]
    instructions: str = _instructions_field(DEFAULT_INSTRUCTIONS)
    max_answer_chars: int = _max_answer_chars_field()
    tie_margin: float = Field(
        DEFAULT_TIE_MARGIN,
        ge=0,
        le=MAX_TIE_MARGIN,
        allow_inf_nan=False,
        description=f"a number of nats from 0 to {MAX_TIE_MARGIN}",
    )

    _instructions_say_something = field_validator("instructions")(_not_blank)


class ScoreLLMConfig(JudgeConfig):
    """``score-llm``: the local model scores each answer from 1 to 10 by the creator's rubric
    (``judges.kinds.score_llm``)."""

    kind: Literal["score-llm"]
    rubric: str = _instructions_field(...)
    max_answer_chars: int = _max_answer_chars_field()

    _rubric_says_something = field_validator("rubric")(_not_blank)


class HttpLLMConfig(JudgeConfig):
    """``http-llm``: an OpenAI-compatible chat endpoint compares every pair of answers and
    replies with a JSON verdict (``judges.kinds.http_llm``). The key is never stored: the config
    names the environment variable that holds it."""

    kind: Literal["http-llm"]
    base_url: str = Field(
        max_length=MAX_URL_CHARS,
        description=f"an http(s) URL of at most {MAX_URL_CHARS} characters, without credentials",
    )
    model: str = Field(
        min_length=1,
        max_length=MAX_MODEL_CHARS,
        pattern=r"^\S+$",
        description=f"the served model's name, 1 to {MAX_MODEL_CHARS} characters, no spaces",
    )
    api_key_env: str = Field(
        "",
        max_length=100,
        pattern=rf"^({API_KEY_ENV_PREFIX}[A-Z0-9_]+)?$",
        description=(
            f"the name of an environment variable starting with {API_KEY_ENV_PREFIX} that holds "
            "the key (capitals, digits, _), or empty for none"
        ),
    )
    rubric: str = _instructions_field(DEFAULT_HTTP_RUBRIC)
    max_answer_chars: int = _max_answer_chars_field()
    timeout_s: int = Field(
        HTTP_TIMEOUT_S,
        ge=1,
        le=MAX_HTTP_TIMEOUT_S,
        description=f"a whole number of seconds from 1 to {MAX_HTTP_TIMEOUT_S}",
    )
    max_retries: int = Field(
        HTTP_RETRIES,
        ge=0,
        le=MAX_HTTP_RETRIES,
        description=f"an integer from 0 to {MAX_HTTP_RETRIES}",
    )

    _rubric_says_something = field_validator("rubric")(_not_blank)

    @field_validator("base_url")
    @classmethod
    def _url_is_http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {_shown(url)}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError(
                "base_url must not hold credentials, a query or a fragment (name the key's "
                "environment variable in api_key_env)"
            )
        return url


JudgeEntry = Annotated[
    VerifierConfig | PairwiseLLMConfig | ScoreLLMConfig | HttpLLMConfig,
    Field(discriminator="kind"),
]


def kind_of(model: type[JudgeConfig]) -> str:
    """The kind a config model is for: the one value of its ``kind`` Literal."""
    return get_args(model.model_fields["kind"].annotation)[0]


KIND_CONFIGS: dict[str, type[JudgeConfig]] = {
    kind_of(model): model for model in get_args(get_args(JudgeEntry)[0])
}


class PanelConfig(RootModel[list[JudgeEntry]]):
    """A space's judge panel: 1 to MAX_JUDGES judges, each of a known kind, at least one of
    which is not a shadow (someone must decide)."""

    root: list[JudgeEntry] = Field(min_length=1, max_length=MAX_JUDGES)

    @model_validator(mode="after")
    def _someone_decides(self) -> PanelConfig:
        if all(judge.shadow for judge in self.root):
            raise ValueError("judge_panel: every judge is a shadow; at least one must decide")
        return self


# --- reading configs, with errors a creator can act on ------------------------------------------

_NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}
_UNKNOWN_KIND = {"union_tag_invalid", "union_tag_not_found"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(where: str | None, problem: str) -> str:
    return f"{where}: {problem}" if where else problem


def _keys(model: type[JudgeConfig]) -> dict[str, Any]:
    """A kind's fields by the keys creators write (aliases where a field has one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _field_problem(error: dict[str, Any], model: type[JudgeConfig] | None) -> str:
    """A pydantic error on one field, in the words of the field's description."""
    field = str(error["loc"][0]) if error["loc"] else "config"
    info = _keys(model).get(field) if model else None
    expected = (info and info.description) or error.get("ctx", {}).get("expected") or error["msg"]
    if error["type"] == "missing":
        return f"{field} must be {expected}; it is missing"
    return f"{field} must be {expected}, not {_shown(error['input'])}"


def _judge_problems(
    errors: list[dict[str, Any]], model: type[JudgeConfig] | None, where: str | None
) -> list[str]:
    """One message per problem of one judge; the errors' locations start at its fields."""
    problems: list[str] = []
    unknown: list[str] = []
    unknown_at = 0
    for error in errors:
        kind = error["type"]
        if kind == "extra_forbidden":
            unknown_at = unknown_at if unknown else len(problems)
            unknown.append(str(error["loc"][-1]))
        elif kind in _NOT_AN_OBJECT and not error["loc"]:
            problems.append(f"{where or 'a judge config'} must be a JSON object with a kind")
        elif kind in _UNKNOWN_KIND:
            given = error["input"].get("kind") if isinstance(error["input"], dict) else None
            known = ", ".join(sorted(KIND_CONFIGS))
            problems.append(_at(where, f"unknown judge kind {given!r}; known: {known}"))
        elif kind == "value_error":  # raised by our validators, in full sentences
            problems.append(_at(where, str(error["ctx"]["error"])))
        else:
            problems.append(_at(where, _field_problem(error, model)))
    if unknown:
        allowed = ", ".join(sorted(_keys(model))) if model else ""
        text = f"unknown key(s) {', '.join(unknown)}; allowed: {allowed}"
        problems.insert(unknown_at, _at(where, text))
    return problems


def _panel_problems(exc: ValidationError) -> list[str]:
    errors = exc.errors()
    shape = [e["type"] for e in errors if not e["loc"]]
    if shape:
        if "value_error" in shape:  # the panel's own validator, in a full sentence
            return [str(e["ctx"]["error"]) for e in errors if not e["loc"]]
        if "too_long" in shape:
            return [f"judge_panel: at most {MAX_JUDGES} judges"]
        return ["judge_panel must be a non-empty list of judge configs"]
    by_judge: dict[int, list[dict[str, Any]]] = {}
    models: dict[int, type[JudgeConfig]] = {}
    for error in errors:
        index, *rest = error["loc"]
        if rest and rest[0] in KIND_CONFIGS:  # a judge of a known kind: its tag is in the loc
            models[index] = KIND_CONFIGS[rest.pop(0)]
        by_judge.setdefault(index, []).append({**error, "loc": tuple(rest)})
    return [
        problem
        for index, judge_errors in sorted(by_judge.items())
        for problem in _judge_problems(judge_errors, models.get(index), f"judge_panel[{index}]")
    ]


def parse_panel(value: Any) -> list[JudgeConfig]:
    """A panel's judges as typed configs, or JudgeConfigError with one message per problem, each
    naming the judge (``judge_panel[1]``) and the field."""
    if not isinstance(value, list):  # a tuple or a string is not a JSON list
        raise JudgeConfigError("judge_panel must be a non-empty list of judge configs")
    try:
        return PanelConfig.model_validate(value).root
    except ValidationError as exc:
        raise JudgeConfigError(*_panel_problems(exc)) from None


def normalize_panel(value: Any) -> list[dict[str, Any]]:
    """The canonical (stored) form of a panel, or JudgeConfigError."""
    return [judge.canonical() for judge in parse_panel(value)]


def parse_judge(config: Any, model: type[C]) -> C:
    """One judge's config for a kind known in advance (``kind`` may be left out), or
    JudgeConfigError saying what is wrong."""
    if not isinstance(config, dict):
        raise JudgeConfigError("a judge config must be a JSON object with a kind")
    try:
        return model.model_validate({"kind": kind_of(model), **config})
    except ValidationError as exc:
        raise JudgeConfigError(*_judge_problems(exc.errors(), model, None)) from None


# --- the check spaces runs when a space or a prompt is saved -------------------------------------


class SpacePanelChecker:
    """spaces' ``JudgePanelChecker`` (``spaces.hooks``) over these models, so a space can
    never store a panel that ``run_panel`` refuses. ``JudgesConfig.ready()`` registers it."""

    def normalize(self, panel: Any) -> list[dict[str, Any]]:
        try:
            return normalize_panel(panel)
        except JudgeConfigError as exc:
            raise DjangoValidationError(exc.messages) from None

    def needs(self, panel: list[dict[str, Any]]) -> list[JudgeNeeds]:
        try:
            judges = parse_panel(panel)
        except JudgeConfigError as exc:
            raise DjangoValidationError(exc.messages) from None
        return [
            JudgeNeeds(
                index=index,
                label=judge.label,
                reference=judge.needs_reference,
                tests=judge.needs_tests,
            )
            for index, judge in enumerate(judges)
        ]
