"""Rate limits: counters in the shared cache (Redis, embedded or real), so every web process of
every machine counts against the same budget. (In ledger, the bottom of the app graph, so that
every app's views can use it without importing upward.)

We count with our own fixed-window counters instead of DRF's ``SimpleRateThrottle`` because
DRF reads a list of request times from the cache and writes it back: requests racing in several
processes overwrite each other's list and all get through. Here each window is one Redis key
bumped with INCR, which is atomic, so the processes together let exactly the limit through.

Scopes and their rates ("N/period") live in ``settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``.
API views name their scope with ``throttle_scope`` (``ScopedThrottle`` is DRF's default throttle
class); web views use ``@throttle_post(scope)``; an action reachable both ways shares one budget.
A client is the signed-in user, else the IP address (DRF's ``get_ident``: REMOTE_ADDR, or the
address NUM_PROXIES trusted proxies put in X-Forwarded-For). Reads are never throttled: the
scopes guard requests that write rows or burn CPU.
"""

from __future__ import annotations

import ipaddress
import math
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """A rate such as "10/min" as (10, 60): events allowed per window, window in seconds."""
    try:
        count, period = rate.split("/")
        return int(count), PERIOD_SECONDS[period.strip()[0]]
    except (ValueError, KeyError, IndexError, AttributeError):
        raise ImproperlyConfigured(f"{rate!r} is not a rate like '10/min'") from None


def rate_of(scope: str) -> tuple[int, int]:
    # Read on every call (not cached at import like DRF's THROTTLE_RATES) so that a settings
    # override takes effect at once.
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES") or {}
    if scope not in rates:
        raise ImproperlyConfigured(f"no DEFAULT_THROTTLE_RATES entry for scope {scope!r}")
    return parse_rate(rates[scope])


def client_address(request) -> str:
    """The client's IP address; for IPv6 its /64 network, which one subscriber usually holds
    whole (counting single addresses would give them 2**64 budgets)."""
    address = BaseThrottle().get_ident(request) or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def client_ident(request) -> str:
    """The signed-in user, else the client's IP address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_address(request)}"


def _window(window_s: int) -> tuple[int, int]:
    """The current window's number and the whole seconds until it ends (at least 1)."""
    now = time.time()
    number = int(now // window_s)
    return number, max(1, math.ceil((number + 1) * window_s - now))


def _key(name: str, window_s: int, number: int) -> str:
    return f"ratelimit:{name}:{window_s}:{number}"


def counter_hit(*, name: str, limit: int, window_s: int) -> int:
    """Count one event; 0 while the window holds at most ``limit`` of them, else the seconds
    until the window ends (the Retry-After)."""
    number, retry_after = _window(window_s)
    key = _key(name, window_s, number)
    cache.add(key, 0, timeout=window_s + 1)  # no-op when the window's key exists
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between the two calls: a new window began
        cache.add(key, 1, timeout=window_s + 1)
        count = 1
    return 0 if count <= limit else retry_after


def counter_reset(*, name: str, window_s: int) -> None:
    number, _ = _window(window_s)
    cache.delete(_key(name, window_s, number))


def throttle_hit(*, scope: str, request) -> int:
    """Count one request of ``scope`` by this client; 0 if allowed, else seconds to wait."""
    limit, window_s = rate_of(scope)
    return counter_hit(name=f"{scope}:{client_ident(request)}", limit=limit, window_s=window_s)


class ScopedThrottle(BaseThrottle):
    """DRF throttle for views with a ``throttle_scope``; views without one are not limited."""

    def __init__(self):
        self.wait_s = 0

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope or request.method in SAFE_METHODS:
            return True
        self.wait_s = throttle_hit(scope=scope, request=request)
        return self.wait_s == 0

    def wait(self) -> int:
        return self.wait_s


def too_many_requests(request, retry_after: int, message: str = ""):
    """The web pages' 429: a page that says when to try again, with a Retry-After header."""
    response = render(
        request,
        "429.html",
        {"retry_after": retry_after, "message": message},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def throttle_post(scope: str):
    """Limit a web view's POSTs to the scope's rate (GETs only render pages)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in SAFE_METHODS:
                wait = throttle_hit(scope=scope, request=request)
                if wait:
                    return too_many_requests(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
