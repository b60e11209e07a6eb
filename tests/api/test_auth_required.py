"""Every operation whose schema requires credentials refuses a request without valid ones: no
credentials, an invented session cookie, or a forged token. The fuzzer's ignored_auth check
makes the same probes; these pin them without it.

Why the fuzzer once reported "accepts invalid authentication" on these operations: it sent an
invented ``sessionid`` cookie *and* the player's real token, got the token's 200, and read it
as the cookie's. A cookie that names no session authenticates no one; the token decided.
"""

from __future__ import annotations

import pytest
import yaml
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

FORGED_SESSION = "forgedsessionkey0000000000000000"


@pytest.fixture
def operations(client):
    """(method, url) of every operation whose security has no anonymous ({}) alternative."""
    schema = yaml.safe_load(client.get("/api/schema/").content)
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [])
            if security and {} not in security:
                found.append((method, path.replace("{id}", "1").replace("{slug}", "sums")))
    assert len(found) >= 15  # the schema really lists the signed-in operations
    return found


def _send(client, method: str, url: str, **extra):
    if method in ("get", "head", "options", "delete"):
        return getattr(client, method)(url, **extra)
    return getattr(client, method)(url, "{}", content_type="application/json", **extra)


def _refusals(client, operations, **extra) -> dict:
    answers = {(m, u): _send(client, m, u, **extra).status_code for m, u in operations}
    return {op: code for op, code in answers.items() if code not in (401, 403)}


def test_it_refuses_every_signed_in_operation_without_credentials(client, operations):
    assert _refusals(client, operations) == {}


def test_it_refuses_an_invented_session_cookie_without_a_token(client, operations):
    client.cookies["sessionid"] = FORGED_SESSION
    assert _refusals(client, operations) == {}


def test_it_refuses_a_forged_token(client, operations):
    assert _refusals(client, operations, HTTP_AUTHORIZATION="Token " + "0" * 40) == {}


def test_it_lets_the_real_token_decide_beside_an_invented_cookie(client, alice):
    # The fuzzer's false alarm, as a request: the 200 is the token's, not the cookie's.
    client.cookies["sessionid"] = FORGED_SESSION
    token = Token.objects.create(user=alice).key
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and response.json()["username"] == "alice"
    client.cookies["sessionid"] = FORGED_SESSION
    assert client.get("/api/v1/me").status_code in (401, 403)


def test_it_documents_token_sign_in_as_open_to_anyone(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert {} in schema["paths"]["/api/v1/auth/token/"]["post"]["security"]
