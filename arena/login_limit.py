"""Password sign-in limits (web form, admin, API token), counted before the password is checked.

Each attempt is counted *before* the password hasher runs, per username and per client IP, with
the atomic counters of ``ledger.throttling`` (shared by every process through the cache). An
attempt past either limit is refused without hashing anything, so a flood costs the server a
cache round trip per request, not a password hash. Counting before checking (rather than after
a failure) keeps the limit exact when many attempts race in parallel.

- per username: LOGIN_LIMIT_PER_USERNAME attempts per window; a successful sign-in resets it.
  (Anyone may lock a username for one window; the price of stopping password guessing.)
- per IP: LOGIN_LIMIT_PER_IP attempts per window, successes included, so that an attacker with
  an account of their own cannot interleave good sign-ins to keep guessing others' passwords.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from ledger.throttling import client_address, counter_hit, counter_reset


def _username_counter(username: str) -> str:
    # Hashed: usernames are user input of any length; case-folded: "Alice" and "alice" share one.
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    return f"login:user:{digest}"


def _ip_counter(request) -> str:
    return f"login:ip:{client_address(request)}"


def login_attempt(*, request, username: str) -> int:
    """Count a password attempt. 0: go on and check the password; else the seconds until the
    client may try again (the password must not be checked)."""
    window_s = settings.LOGIN_LIMIT_WINDOW_S
    waits = [
        counter_hit(name=_ip_counter(request), limit=settings.LOGIN_LIMIT_PER_IP, window_s=window_s)
    ]
    if username:
        waits.append(
            counter_hit(
                name=_username_counter(username),
                limit=settings.LOGIN_LIMIT_PER_USERNAME,
                window_s=window_s,
            )
        )
    return max(waits)


def login_succeeded(*, username: str) -> None:
    """The right password ends the username's count (the IP's count stays)."""
    counter_reset(name=_username_counter(username), window_s=settings.LOGIN_LIMIT_WINDOW_S)


def lockout_message(retry_after: int) -> str:
    minutes = max(1, round(retry_after / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many sign-in attempts. Try again in {minutes} {unit}."
