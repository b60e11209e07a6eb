"""Rate limits in tests.

Every test runs from 127.0.0.1 and many create users whose ids repeat, so the production limits
(ledger/throttling.py, arena/login_limit.py) would throttle tests that legitimately make many
requests (a fuzzer, page walks, several sign-ins in one session). ``relaxed_rate_limits`` (autouse,
imported by tests/conftest.py) raises every limit for in-process views *and*, through the
environment, for processes a test starts (daphne, workers). A test of the limits themselves asks
for ``production_rate_limits``: the configured limits, counted from zero.
"""

from __future__ import annotations

import uuid

import pytest

RELAXED = 1_000_000
# The environment variables of arena/settings.py that set a limit.
LIMIT_ENV = (
    "ARENA_RATE_SIWE_NONCE_PER_MIN",
    "ARENA_RATE_SIWE_VERIFY_PER_MIN",
    "ARENA_RATE_TOKEN_LOGIN_PER_MIN",
    "ARENA_RATE_REGISTER_PER_HOUR",
    "ARENA_RATE_ENTRY_PER_MIN",
    "ARENA_RATE_WITHDRAWAL_PER_HOUR",
    "ARENA_RATE_PREFERENCES_EXPORT_PER_HOUR",
    "ARENA_RATE_TRAINING_PER_MIN",
    "ARENA_LOGIN_LIMIT_PER_USERNAME_IP",
    "ARENA_LOGIN_LIMIT_PER_USERNAME",
    "ARENA_LOGIN_LIMIT_PER_IP",
)


@pytest.fixture(autouse=True)
def relaxed_rate_limits(request, settings, monkeypatch):
    if "production_rate_limits" in request.fixturenames:
        return
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {scope: f"{RELAXED}/min" for scope in rates},
    }
    settings.LOGIN_LIMIT_PER_USERNAME_IP = RELAXED
    settings.LOGIN_LIMIT_PER_USERNAME = RELAXED
    settings.LOGIN_LIMIT_PER_IP = RELAXED
    for name in LIMIT_ENV:
        monkeypatch.setenv(name, str(RELAXED))


class LimiterClock:
    """The limiters' clock, pinned one second into a window of every length (1 s to a day), so
    that a test's requests never straddle two windows; ``advance`` moves it on."""

    def __init__(self):
        self.now = 1_000 * 86_400 + 1.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def production_rate_limits(settings, monkeypatch) -> LimiterClock:
    """The limits arena/settings.py configures, with no count left over from earlier tests or
    runs (the cache gets a key prefix of its own for this test), on a pinned clock."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }
    clock = LimiterClock()
    monkeypatch.setattr("ledger.throttling.time", clock)
    return clock
