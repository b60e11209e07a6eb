"""The API's edges: bounded pagination, JSON errors everywhere under /api/, and a schema that
documents the answers the views really give."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/agents/", "/api/v1/spaces/", "/api/v1/transfers"])
@pytest.mark.parametrize(
    "query",
    [
        "limit=9223372036854775808",  # reached the database as an out-of-range integer: a 500
        "limit=201",
        "limit=0",
        "limit=-1",
        "limit=abc",
        "offset=99999999999999999999",
        "offset=-1",
        "offset=null",
    ],
)
def test_it_refuses_a_page_size_or_offset_out_of_range(api, path, query):
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400
    assert set(response.json()) <= {"limit", "offset"}


def test_it_pages_within_the_bounds(api):
    response = api.get("/api/v1/spaces/?limit=200&offset=2147483647")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert api.get("/api/v1/spaces/?limit=1").status_code == 200


def test_it_refuses_an_unknown_space_status_filter(api):
    assert api.get("/api/v1/spaces/?status=opn").status_code == 400
    assert api.get("/api/v1/spaces/?status=open").status_code == 200


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_it_answers_unknown_api_paths_with_json_404(client, settings, debug, method):
    settings.DEBUG = debug  # with DEBUG, Django would render its technical 404 page
    response = getattr(client, method)("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_it_still_redirects_a_known_api_path_missing_its_slash(client):
    response = client.get("/api/v1/spaces")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/spaces/"


def test_it_keeps_html_404_pages_outside_the_api(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_answers_server_errors_under_the_api_with_json(rf):
    from arena.api_support import server_error

    api = server_error(rf.get("/api/v1/me"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    page = server_error(rf.get("/agents/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


# --- 400 and 403 raised by Django itself, before or outside DRF -------------------------------


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_it_answers_too_many_form_fields_under_the_api_with_json(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"f{i}": "x" for i in range(11)}

    api = client.post("/api/v1/auth/token/", fields)
    page = client.post("/accounts/login/", fields)

    assert assert_json_error(api, 400) == {"detail": "Too many fields in the request."}
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("username=" + "x" * 200 + "&password=p", "application/x-www-form-urlencoded"),
        ('{"username": "' + "x" * 200 + '", "password": "p"}', "application/json"),
    ],
)
def test_it_answers_an_oversized_body_under_the_api_with_json(client, settings, body, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    api = client.post("/api/v1/auth/token/", body, content_type=content_type)

    assert assert_json_error(api, 400) == {"detail": "The request body is too large."}
    if content_type.endswith("urlencoded"):  # the page reads a form body only
        page = client.post("/accounts/login/", body, content_type=content_type)
        assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/spaces/", "/api/v1/no-such-thing/", "/api/schema/"])
def test_it_answers_a_disallowed_host_under_the_api_with_json(client, path):
    response = client.get(path, HTTP_HOST="evil.example")

    body = assert_json_error(response, 400)
    assert body == {"detail": "Invalid Host header."}  # never echoes the header or the settings
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.api.plain_view_urls")
def test_it_answers_a_csrf_failure_under_the_api_with_json(settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)

    api = client.post("/api/plain/", {"a": "1"})
    page = client.post("/plain/", {"a": "1"})

    assert assert_json_error(api, 403)["detail"].startswith("CSRF Failed: ")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.api.plain_view_urls")
def test_it_answers_permission_denied_under_the_api_with_json(client):
    api = client.get("/api/forbidden/")
    page = client.get("/forbidden/")

    assert assert_json_error(api, 403) == {
        "detail": "You do not have permission to perform this action."
    }
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_the_error_handlers_are_wired_for_the_site():
    from django.conf import settings
    from django.urls import get_resolver

    from arena import api_support

    resolver = get_resolver()
    assert resolver.resolve_error_handler(400) is api_support.bad_request
    assert resolver.resolve_error_handler(403) is api_support.permission_denied
    assert settings.CSRF_FAILURE_VIEW == "arena.api_support.csrf_failure"


def test_it_answers_a_bare_validation_error_as_an_object():
    from rest_framework.exceptions import ValidationError

    from arena.api_support import api_exception_handler

    response = api_exception_handler(ValidationError("bad"), {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["bad"]}


def test_it_answers_a_malformed_token_login_with_a_400(client):
    response = client.post("/api/v1/auth/token/", "[null, null]", content_type="application/json")
    assert response.status_code == 400


def _response(schema, path, method, code):
    return schema["paths"][path][method]["responses"].get(str(code))


def test_it_documents_nullable_fields_as_nullable(schema):
    adapter = schema["components"]["schemas"]["AdapterVersion"]["properties"]
    assert adapter["parent_sha256"]["nullable"] is True


def test_it_documents_the_validation_error_body_it_sends(schema, api):
    documented = _response(schema, "/api/v1/entries/", "post", 400)
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationError")
    sent = api.post("/api/v1/entries/", {}, format="json").json()
    assert "agent" in sent and "detail" not in sent  # field messages, not {"detail": ...}


def test_it_documents_every_error_status_a_view_can_answer(schema):
    # path parameters: 404; authentication: 401/403; input: 400; a page: limit/offset bounds
    for code in (400, 401, 403, 404):
        assert _response(schema, "/api/v1/agents/{id}/", "patch", code), code
    assert _response(schema, "/api/v1/entries/", "post", 404)
    assert _response(schema, "/api/v1/entries/", "post", 200)  # a replayed key
    assert _response(schema, "/api/v1/chain", "get", 503)
    limit = next(
        p for p in schema["paths"]["/api/v1/agents/"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 200


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/entries/", "post"),
        ("/api/v1/withdrawals", "post"),
        ("/api/v1/siwe/verify", "post"),
    ],
)
def test_it_documents_429_on_throttled_operations(schema, path, method):
    assert _response(schema, path, method, 429), (path, method)
    assert not _response(schema, "/api/v1/entries/", "get", 429)  # reads are not throttled
