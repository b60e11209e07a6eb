"""Schemathesis against the live API: every operation of the published schema, fuzzed with
bounded, seeded examples while signed in as a player, must never answer a server error, and
every answer must be one the schema documents (status code, content type, body).

The run is the schemathesis CLI against pytest-django's live server, so CI exercises the same
stack as a client would (routing, middleware, authentication, throttles, 404s). Rate limits are
raised for every test (tests/throttle_fixtures.py), so the fuzzer measures the API, not them.

It also holds requests to the schema: one that fits it is accepted (or refused only with a 400
the schema cannot rule out, where a stored id or credential decides: tests/api/schemathesis.toml
names those operations), one that breaks it is refused, and an operation that requires
credentials refuses a request without valid ones.

Reproduce or widen a run: ``ARENA_FUZZ_MAX_EXAMPLES=100 ARENA_FUZZ_CHECKS=all pytest -s
tests/api/test_schema_fuzz.py`` prints schemathesis's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# Bounded so the whole run stays within a few minutes on two cores; the seed makes CI
# reproducible (the same cases every run).
MAX_EXAMPLES = int(os.environ.get("ARENA_FUZZ_MAX_EXAMPLES", "20"))
SEED = os.environ.get("ARENA_FUZZ_SEED", "20240601")
CONFIG = Path(__file__).with_name("schemathesis.toml")
# The checks CI holds the API to: no server error; every answer (status code, content type,
# headers, body) one the schema documents; input accepted exactly when the schema allows it; and
# credentials enforced where the schema requires them. ARENA_FUZZ_CHECKS=all adds the rest
# (e.g. stateful ones such as use-after-free) for a local report.
CHECKS = os.environ.get(
    "ARENA_FUZZ_CHECKS",
    ",".join(
        [
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_headers_conformance",
            "response_schema_conformance",
            "positive_data_acceptance",
            "negative_data_rejection",
            "ignored_auth",
        ]
    ),
)


@pytest.fixture
def player(django_user_model, tiny_base, tmp_path, settings):
    """alice with credits, a token, an agent (with an adapter), and an open space to enter."""
    from rest_framework.authtoken.models import Token

    from agents.services import agent_create
    from ledger import services as ledger
    from spaces.economics import PLATFORM
    from spaces.services import prompt_create, space_create, space_set_status

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARENA_INFERENCE_BACKEND = "scripted"
    alice = django_user_model.objects.create_user("alice", "alice@example.com", "alice-pass-123")
    carol = django_user_model.objects.create_user("carol", "carol@example.com", "carol-pass-123")
    ledger.grant(user=alice, amount=10_000, key="fuzz:alice")
    agent_create(owner=alice, name="fuzzy", base_model=tiny_base, seed=1)
    space = space_create(
        creator=carol,
        actor=PLATFORM,
        slug="sums",
        title="Sums",
        task_kind="verifiable",
        judge_panel=[{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}],
        payout_shares=["0.7", "0.3"],
        agents_per_match=2,
        rules={"answer_format": "number", "max_new_tokens_cap": 16},
        heldout_fraction="0",
        fee_tiers=[("free", 0), ("standard", 100)],
    )
    prompt_create(space=space, text="What is 1 + 1?", reference="2", split="train")
    space_set_status(space=space, status="open")
    return Token.objects.create(user=alice).key


def test_it_survives_the_fuzzer_with_every_answer_documented(live_server, player, tmp_path):
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {player}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--continue-on-failure",
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--no-color",
    ]
    # cwd: schemathesis keeps its example database under ./.schemathesis
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    out = run.stdout + run.stderr
    print(out)
    assert run.returncode == 0, out[-20_000:]
