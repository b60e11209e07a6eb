"""API input fields that take a JSON body at its word, and document what they refuse.

DRF's fields coerce: ``{"name": 0}`` becomes the name ``"0"``, ``"5"`` an integer, ``1`` a
boolean. The schema says ``type: string`` (``integer``, ``boolean``), so a client reading it, or a
fuzzer, is told those are refused. These fields refuse them. A form (or multipart) body carries
every value as text, so there the text of a number or boolean is still parsed as DRF does.

StrictCharField also states in the schema what DRF refuses without saying so: a blank value
(after trimming whitespace), a NUL character, and more than ``max_length`` characters as sent.

Here, in the lowest app, so every app's API (ledger, agents, arena) can use them, like
ledger/throttling.py.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.http import QueryDict
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# Every character str.strip() (and so DRF's trim_whitespace) removes, spelled out so a pattern
# means the same in ECMA (the schema's regex dialect) and Python: ``\s`` differs between them.
# (tests/api/test_input_rules.py checks it against str.isspace().)
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _class(chars: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in chars)


# A value DRF takes: no NUL (DRF refuses it) and, unless blank is allowed, something left after
# trimming whitespace. For a field that allows blank, drf-spectacular documents "" as an
# alternative of its own (a oneOf), so the pattern must not match "" too.
TEXT_PATTERN = r"^[^\u0000]*$"
NON_EMPTY_TEXT_PATTERN = r"^[^\u0000]+$"
NON_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{_class(WHITESPACE)}][^\u0000]*$"


def sent_as_form(field: serializers.Field) -> bool:
    """Whether the body this field reads came as a form, where every value is text."""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


class StrictCharField(serializers.CharField):
    """A CharField that takes only a string, and at most ``max_length`` characters as sent (DRF
    counts them after trimming, so the schema's ``maxLength`` would not be the rule)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that takes a JSON integer: not ``"5"``, ``5.0`` or ``true``."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and sent_as_form(self))
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A FloatField that takes a JSON number: not ``"0.5"`` or ``true``."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, (int, float)) or (isinstance(data, str) and sent_as_form(self))
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes a JSON boolean: not ``1``, ``0`` or ``"true"``."""

    def to_internal_value(self, data):
        if not (isinstance(data, bool) or (isinstance(data, str) and sent_as_form(self))):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of a related object, as a JSON integer: DRF would also look up ``"1"`` or ``1.0``."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and sent_as_form(self))
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


# For a ModelSerializer: ``serializer_field_mapping = strict_field_mapping(...)`` and
# ``serializer_related_field = StrictPrimaryKeyRelatedField``.
_STRICT = {
    serializers.CharField: StrictCharField,
    serializers.IntegerField: StrictIntegerField,
    serializers.FloatField: StrictFloatField,
    serializers.BooleanField: StrictBooleanField,
}


def strict_field_mapping(mapping: dict) -> dict:
    """A ModelSerializer's model-field -> serializer-field mapping, with the strict fields."""
    return {model_field: _STRICT.get(field, field) for model_field, field in mapping.items()}


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """Documents what a StrictCharField refuses beyond ``maxLength``: NUL, and a blank value (the
    rule DRF applies after trimming, so ``minLength: 1`` alone would let ``" "`` through)."""

    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction != "request" or self.target.read_only:
            return schema
        # A field's own RegexValidator is the rule (drf-spectacular documents it after this).
        if "pattern" not in schema and not any(
            isinstance(v, RegexValidator) for v in self.target.validators
        ):
            if self.target.allow_blank:
                schema["pattern"] = NON_EMPTY_TEXT_PATTERN
            elif self.target.trim_whitespace:
                schema["pattern"] = NON_BLANK_PATTERN
            else:  # untrimmed, only "" is blank: minLength says so
                schema["pattern"] = TEXT_PATTERN
        if not self.target.allow_blank:
            schema.setdefault("minLength", 1)
        return schema
