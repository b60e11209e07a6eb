"""The schema class (``DEFAULT_SCHEMA_CLASS``): documents, on every operation, the error answers
a view can give (400/401/403/404/429) with the bodies it really sends."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import ScopedRateThrottle

from arena.api_support import ErrorSerializer
from ledger.throttling import ScopedThrottle

VALIDATION_ERROR_COMPONENT = ResolvedComponent(
    name="ValidationError",
    type=ResolvedComponent.SCHEMA,
    object="ValidationError",
    schema={
        "type": "object",
        "description": (
            "Invalid input. Either a human message in `detail`, or the messages per field: "
            "each key names an input field (`non_field_errors` for the input as a whole) and "
            "holds its list of messages (nested objects for nested fields)."
        ),
        "properties": {
            "detail": {"type": "string"},
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
    },
)

_ERROR_DESCRIPTIONS = {
    400: "Invalid input",
    401: "Not signed in, or the credentials are invalid",
    403: "Not allowed (or a missing CSRF token with session authentication)",
    404: "Not found (or not visible to you)",
    429: "Too many requests; retry after the given number of seconds",
}


def _is_throttled(view, method: str) -> bool:
    scope = getattr(view, "throttle_scope", None)
    for throttle in view.throttle_classes:
        # Scoped throttles only limit views that name a scope (ours: and only their writes).
        if issubclass(throttle, ScopedThrottle):
            if scope and method not in SAFE_METHODS:
                return True
        elif not issubclass(throttle, ScopedRateThrottle) or scope:
            return True
    return False


class ArenaAutoSchema(AutoSchema):
    """Documents, on every operation, the errors DRF answers on its behalf: 400 where it takes
    input, 401/403 where it authenticates, 404 where the path names an object, 429 where it is
    throttled. Responses declared on the view itself win."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        codes = set()
        if operation.get("requestBody") or any(p["in"] == "query" for p in parameters):
            codes.add(400)
        if self.view.authentication_classes:
            codes.update((401, 403))
        if any(p["in"] == "path" for p in parameters):
            codes.add(404)
        if _is_throttled(self.view, self.method):
            codes.add(429)
        responses = operation.setdefault("responses", {})
        for code in sorted(codes):
            responses.setdefault(str(code), self.error_response(code))
        return operation

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular documents every MinValueValidator as an inclusive minimum; one whose
        # compare() refuses the limit itself is exclusive ("greater than 0").
        for validator in field.validators:
            if (
                isinstance(validator, MinValueValidator)
                and schema.get("minimum") == validator.limit_value
                and validator.compare(validator.limit_value, validator.limit_value)
            ):
                schema["exclusiveMinimum"] = True

    def error_response(self, code: int) -> dict:
        if code == 400:
            self.registry.register_on_missing(VALIDATION_ERROR_COMPONENT)
            schema = VALIDATION_ERROR_COMPONENT.ref
        else:
            schema = self.resolve_serializer(ErrorSerializer, "response").ref
        response = {
            "description": _ERROR_DESCRIPTIONS.get(code, ""),
            "content": {"application/json": {"schema": schema}},
        }
        if code == 429:
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "seconds to wait before retrying",
                }
            }
        return response
