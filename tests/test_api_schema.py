import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_it_publishes_the_openapi_schema_with_every_surface(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/me",
        "/api/v1/balance",
        "/api/v1/transfers",
        "/api/v1/deposits",
        "/api/v1/withdrawals",
        "/api/v1/siwe/nonce",
        "/api/v1/siwe/verify",
        "/api/v1/agents/",
        "/api/v1/spaces/",
    ):
        assert expected in paths, f"{expected} missing from {sorted(paths)}"


def test_it_authenticates_api_calls_with_a_token(client, alice):
    from rest_framework.test import APIClient

    token = client.post("/api/v1/auth/token/", {"username": "alice", "password": "alice-pass-123"})
    assert token.status_code == 200
    api = APIClient()
    assert api.get("/api/v1/me").status_code in (401, 403)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    me = api.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_it_refuses_a_token_for_a_wrong_password(client, alice):
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 400
