"""Fixtures of the preference tests: the match-loop fixtures of tests/arena (scripted backend,
inline steps, a verifiable space, funded players, agents), and settled matches."""

from __future__ import annotations

import pytest

from preferences.throttling import SCOPE
from tests.arena.conftest import (  # noqa: F401 - fixtures used by these tests
    agent_factory,
    base_model,
    dave,
    no_broker,
    players,
    scripted_backend,
    space,
    tier,
)
from tests.preferences.fixtures import pairs_space  # noqa: F401
from tests.throttle_fixtures import RELAXED


@pytest.fixture(autouse=True)
def relaxed_export_limit(request, settings):
    """The export scope raised like every other limit (tests/throttle_fixtures.py)."""
    if "production_rate_limits" in request.fixturenames:
        return
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            SCOPE: f"{RELAXED}/min",
        },
    }
