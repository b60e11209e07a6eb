"""Password sign-in limits (web form, admin, API token), counted before the password is checked.

``authenticate_limited`` is the one way a password is checked: the web and admin forms and the
token view all call it. It counts the attempt *before* the password hasher runs, with the atomic
counters of ``ledger.throttling`` (shared by every process through the cache); an attempt past a
limit is refused without hashing anything, so a flood costs the server a cache round trip per
request, not a password hash. Counting before checking (rather than after a failure) keeps the
limits exact when many attempts race in parallel. Three counts, in this order:

- per IP: LOGIN_LIMIT_PER_IP attempts per window, successes included, so that an attacker with
  an account of their own cannot interleave good sign-ins to keep guessing others' passwords.
- per (username, IP): LOGIN_LIMIT_PER_USERNAME_IP attempts per window; a successful sign-in
  resets it. Guessing one account from one place stops here, and locks out only that place.
- per username, across all IPs: LOGIN_LIMIT_PER_USERNAME (higher) attempts per window, so that
  guessing spread over many addresses is stopped too. Only attempts that passed the two counts
  above reach it: a client refused there does not spend the account's budget, so locking an
  account out everywhere takes that many checked passwords from many addresses, not 5 requests.
  A success does not reset it: one right password must not refund guesses made elsewhere.

The username counted is the one the backend checks: trimmed as the forms and DRF trim it (and
passed on trimmed, so the two cannot differ), case-folded and NFKC-normalised so that every
spelling that could reach one account ("Dora", " dora", the web form's NFKC of "ｄｏｒａ")
shares its budget. Django's ModelBackend matches usernames case-sensitively; sharing a budget
between "Dora" and "dora" only ever counts more, never less.
"""

from __future__ import annotations

import hashlib
import unicodedata

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.views.decorators.debug import sensitive_variables

from ledger.throttling import client_address, counter_hit, counter_reset


class LoginError(ValueError):
    """A sign-in was refused; the message says why."""


class LoginFailed(LoginError):
    """Wrong username or password (or an account that may not sign in)."""

    def __init__(self, message: str = "Unable to log in with provided credentials."):
        super().__init__(message)


class LoginLocked(LoginError):
    """Too many attempts: the password was not checked. ``retry_after``: seconds to wait."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(lockout_message(retry_after))


def login_username(username: str) -> str:
    """The username as the authentication backend receives it: trimmed like Django's form
    fields and DRF's CharField trim it (both use str.strip())."""
    return username.strip()


def _username_key(username: str) -> str:
    # Hashed: usernames are user input of any length.
    folded = unicodedata.normalize("NFKC", login_username(username)).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()[:32]


def login_attempt(*, request, username: str) -> int:
    """Count a password attempt. 0: go on and check the password; else the seconds until the
    client may try again (the password must not be checked). Stops at the first count that is
    spent, so a refused attempt spends nothing further on (see the module's docstring)."""
    window_s = settings.LOGIN_LIMIT_WINDOW_S
    address = client_address(request)
    user_key = _username_key(username)
    counts = [(f"login:ip:{address}", settings.LOGIN_LIMIT_PER_IP)]
    if login_username(username):
        counts += [
            (f"login:user-ip:{user_key}:{address}", settings.LOGIN_LIMIT_PER_USERNAME_IP),
            (f"login:user:{user_key}", settings.LOGIN_LIMIT_PER_USERNAME),
        ]
    for name, limit in counts:
        retry_after = counter_hit(name=name, limit=limit, window_s=window_s)
        if retry_after:
            return retry_after
    return 0


def login_succeeded(*, request, username: str) -> None:
    """The right password ends this (username, IP)'s count; the IP's and the username's stay."""
    name = f"login:user-ip:{_username_key(username)}:{client_address(request)}"
    counter_reset(name=name, window_s=settings.LOGIN_LIMIT_WINDOW_S)


@sensitive_variables("password")  # kept out of error reports, as django.contrib.auth does
def authenticate_limited(*, request, username: str, password: str) -> AbstractBaseUser:
    """Check a username and password within the sign-in limits: the user, or LoginLocked
    (nothing hashed) or LoginFailed. Callers apply their own policy afterwards (the admin's
    staff check, for one); the password was right, so the count is reset either way."""
    username = login_username(username)
    if not username or not password:
        # Nothing to check; authenticate() would still hash the password of an unknown user.
        raise LoginFailed()
    retry_after = login_attempt(request=request, username=username)
    if retry_after:
        raise LoginLocked(retry_after)
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise LoginFailed()
    login_succeeded(request=request, username=username)
    return user


def lockout_message(retry_after: int) -> str:
    minutes = max(1, round(retry_after / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many sign-in attempts. Try again in {minutes} {unit}."
