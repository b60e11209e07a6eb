"""The streamed export download, on the web and the API: the space's creator and staff get the
same rows as the command writes; anyone else gets a 404 (or must sign in) and no data."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from rest_framework.test import APIClient

from preferences.provenance import content_sha256
from tests.preferences.helpers import merkle, read_jsonl

pytestmark = pytest.mark.django_db

WEB = "/spaces/trio/export/{fmt}/"
API = "/api/v1/spaces/trio/preferences/{fmt}/"


def unzip(response) -> dict[str, bytes]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def check_archive(files: dict[str, bytes]) -> dict:
    import hashlib

    manifest = json.loads(files.pop("manifest.json"))
    assert {f["path"] for f in manifest["files"]} == set(files)
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"]
    if "pairs.jsonl" in files:
        leaves = [row["content_sha256"] for row in lines(files["pairs.jsonl"])]
    else:
        leaves = [content_sha256(row) for row in lines(files["data.jsonl"])]
    assert manifest["merkle_root"] == merkle(leaves)
    return manifest


@pytest.mark.parametrize("fmt", ["trl", "trl-chat", "kto", "battles"])
def test_the_creator_downloads_the_same_rows_the_command_writes(
    client, carol, pairs_space, tmp_path, fmt
):
    call_command(
        "export_preferences", "--space", "trio", "--format", fmt, "--out", str(tmp_path / "cli")
    )
    client.force_login(carol)
    files = unzip(client.get(WEB.format(fmt=fmt)))
    assert set(files) >= {"data.jsonl", "README.md", "manifest.json"}
    assert lines(files["data.jsonl"]) == read_jsonl(tmp_path / "cli" / "data.jsonl")
    manifest = check_archive(files)
    cli = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert manifest["merkle_root"] == cli["merkle_root"] and manifest["rows"] == cli["rows"]


def test_the_download_takes_the_filters(client, carol, pairs_space):
    client.force_login(carol)
    scout = pairs_space.scout.pk
    files = unzip(
        client.get(WEB.format(fmt="trl-chat"), {"agent": scout, "include_system_prompt": "1"})
    )
    rows = lines(files["data.jsonl"])
    assert len(rows) == 4 and rows[0]["prompt"][0]["role"] == "system"
    files = unzip(client.get(WEB.format(fmt="trl"), {"since": "2999-01-01"}))
    assert files["data.jsonl"] == b""
    response = client.get(WEB.format(fmt="trl"), {"since": "soon"})
    assert response.status_code == 400 and b"is not a date" in response.content


def test_staff_may_download_and_outsiders_get_nothing(client, staff, mallory, bob, pairs_space):
    client.force_login(staff)
    assert "data.jsonl" in unzip(client.get(WEB.format(fmt="trl")))
    for outsider in (mallory, bob):  # bob plays in the space but did not create it
        client.force_login(outsider)
        response = client.get(WEB.format(fmt="trl"))
        assert response.status_code == 404
        assert not isinstance(response, StreamingHttpResponse)
    client.logout()
    response = client.get(WEB.format(fmt="trl"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_parquet_and_hf_are_made_by_the_command_only(client, carol, pairs_space):
    client.force_login(carol)
    assert client.get(WEB.format(fmt="parquet")).status_code == 404
    assert client.get(WEB.format(fmt="hf")).status_code == 404


def test_the_api_streams_the_same_archive_to_the_creator(carol, pairs_space):
    api = APIClient()
    api.force_authenticate(carol)
    response = api.get(API.format(fmt="kto"), HTTP_ACCEPT="application/zip")
    files = unzip(response)
    check_archive(files)
    assert len(lines(files["data.jsonl"])) == 8
    bad = api.get(API.format(fmt="trl"), {"min_margin": "2"})
    assert bad.status_code == 400 and "min_margin" in bad.json()
    late = api.get(API.format(fmt="trl"), {"since": "2026-02-01", "until": "2026-01-01"})
    assert late.status_code == 400 and late.json() == {"detail": "since must be before until"}


def test_the_api_refuses_outsiders_without_data(mallory, pairs_space):
    api = APIClient()
    assert api.get(API.format(fmt="trl")).status_code in (401, 403)
    api.force_authenticate(mallory)
    response = api.get(API.format(fmt="trl"))
    assert response.status_code == 404 and response.json() == {"detail": "no such export"}
    api.force_authenticate(pairs_space.creator)
    assert api.get(API.format(fmt="csv")).status_code == 404


def test_the_export_endpoint_is_in_the_api_schema(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/spaces/{slug}/preferences/{fmt}/"]["get"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "slug",
        "fmt",
        "since",
        "until",
        "min_margin",
        "min_agreement",
        "agent",
    }
    assert {"400", "404", "429"} <= set(operation["responses"])


def test_under_asgi_the_zip_streams_through_an_async_iterator(carol, pairs_space):
    async def download():
        client = AsyncClient()
        await client.aforce_login(carol)
        response = await client.get(WEB.format(fmt="trl"))
        assert response.is_async  # not listed whole by Django before sending
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(download)()
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert len(archive.read("data.jsonl").splitlines()) == 4


def test_downloads_are_rate_limited(client, carol, pairs_space, production_rate_limits, settings):
    from preferences.throttling import SCOPE

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            SCOPE: "2/hour",
        },
    }
    client.force_login(carol)
    for _ in range(2):
        assert client.get(WEB.format(fmt="trl")).status_code == 200
    limited = client.get(WEB.format(fmt="trl"))
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    api = APIClient()
    api.force_authenticate(carol)
    limited = api.get(API.format(fmt="trl"))  # one budget for the web and the API
    assert limited.status_code == 429 and "Retry-After" in limited


def test_the_zip_goes_out_pair_by_pair_not_built_whole(client, carol, pairs_space, monkeypatch):
    # Stored, not deflated (zlib holds back its output until its window fills), and flushed
    # at every byte: then each pair leaves as soon as it is written.
    monkeypatch.setattr("preferences.exporting.ZIP_COMPRESSION", zipfile.ZIP_STORED)
    monkeypatch.setattr("preferences.exporting.ZIP_FLUSH_BYTES", 1)
    client.force_login(carol)
    response = client.get(WEB.format(fmt="trl"))
    chunks = [chunk for chunk in response.streaming_content if chunk]
    # A chunk per pair written (4), the provenance, the card and manifest, the directory.
    assert len(chunks) >= 6
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
