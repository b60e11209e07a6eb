"""What every API view shares, wired in from settings: bounded pagination and JSON errors under
``/api/`` (DRF's, and Django's own 400/403/404/500 and CSRF refusal). The schema side is
arena/api_schema.py (apart, because drf-spectacular imports DRF's generics, which import the
pagination class here)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, re_path, resolve
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import exception_handler

API_PREFIX = "/api/"

# --- pagination -------------------------------------------------------------------------------

MAX_LIMIT = 200
# The largest value every supported database takes as an OFFSET (a signed 32-bit integer):
# anything bigger is refused at the edge instead of overflowing the SQL parameter.
MAX_OFFSET = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def _bounded_int(raw: str, *, name: str, minimum: int, maximum: int) -> int:
    # ASCII digits only: int() would also take " 5", "+5", "5_0" and other scripts' digits.
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        raise ValidationError({name: [f"must be an integer from {minimum} to {maximum}"]})
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=&offset=`` with a maximum page size; a limit or offset that is not a whole
    number in range is a 400 (DRF silently ignores it, and passes a huge limit to the database)."""

    max_limit = MAX_LIMIT
    max_offset = MAX_OFFSET

    def get_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        return _bounded_int(raw, name=self.limit_query_param, minimum=1, maximum=self.max_limit)

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None:
            return 0
        return _bounded_int(raw, name=self.offset_query_param, minimum=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


# --- errors -----------------------------------------------------------------------------------


def api_exception_handler(exc, context):
    """DRF's handler, with one shape fixed: a ValidationError raised with a bare message or list
    (not a field dict) would answer a JSON list; it answers ``{"non_field_errors": [...]}``
    like a serializer's own ``validate()`` does, so every error body is an object."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"non_field_errors": response.data}
    return response


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


# Exempt: it changes nothing, and a CSRF refusal would answer Django's HTML 403 page instead.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown ``/api/`` paths: a JSON 404, never an HTML page (nor DEBUG's technical page).

    Routed as the last ``/api/`` pattern, it shadows CommonMiddleware's APPEND_SLASH redirect,
    so it redirects itself where that would have (a safe request whose path resolves with a
    trailing slash)."""
    path = request.path_info
    if settings.APPEND_SLASH and request.method in SAFE_METHODS and not path.endswith("/"):
        try:
            match = resolve(f"{path}/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            target = request.get_full_path(force_append_slash=True)
            return HttpResponsePermanentRedirect(target)
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


# The last pattern of the root urlconf: whatever /api/ path no other pattern took.
api_catch_all = re_path(r"^api/", api_not_found, name="api-not-found")


def page_not_found(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


# Django's own 400s: the exceptions it raises while reading a request (in middleware, or when a
# view first reads the body), before DRF could answer. A fixed message for each: the exceptions'
# own text echoes the request (a DisallowedHost names the header) and advises on settings.
_BAD_REQUEST_DETAILS = (
    (DisallowedHost, "Invalid Host header."),
    (RequestDataTooBig, "The request body is too large."),
    ((TooManyFieldsSent, TooManyFilesSent), "Too many fields in the request."),
)


def bad_request(request, exception=None):
    """``handler400``; only called with DEBUG off (with DEBUG, Django shows its technical page)."""
    if _is_api(request):
        detail = next(
            (text for kinds, text in _BAD_REQUEST_DETAILS if isinstance(exception, kinds)),
            "Bad request.",
        )
        return JsonResponse({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    """``handler403``: a PermissionDenied no DRF view turned into its own answer."""
    if _is_api(request):
        # DRF's message for the same refusal, so the API says it one way.
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."},
            status=status.HTTP_403_FORBIDDEN,
        )
    return defaults.permission_denied(request, exception)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: CsrfViewMiddleware's refusal. DRF's views are CSRF-exempt (their
    session authentication checks the token and answers JSON itself), so under /api/ this only
    guards a plain Django view; it answers as DRF would, reason included (Django's fixed texts)."""
    if _is_api(request):
        return JsonResponse({"detail": f"CSRF Failed: {reason}"}, status=status.HTTP_403_FORBIDDEN)
    return csrf.csrf_failure(request, reason=reason)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return defaults.server_error(request)


class ErrorSerializer(serializers.Serializer):
    """An error with a human message."""

    # The "Error" schema component: views name it in their own extend_schema(responses=...).
    detail = serializers.CharField()
