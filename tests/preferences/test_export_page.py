"""The export page: a space's creator (and staff) picks filters, sees the row count and the
manifest, and downloads the same filters as a stream; anyone else gets nothing."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

pytestmark = pytest.mark.django_db

PAGE = "/spaces/trio/export/"


def test_the_creator_sees_the_count_and_manifest_and_downloads_them(client, carol, pairs_space):
    client.force_login(carol)
    blank = client.get(PAGE)
    assert blank.status_code == 200 and blank.context["preview"] is None
    page = client.get(PAGE, {"fmt": "kto", "min_margin": "0.5"})
    preview = page.context["preview"]
    assert (preview.items, preview.rows, preview.item_name) == (4, 8, "pairs")
    assert preview.manifest["filters"]["min_margin"] == 0.5
    assert preview.manifest["pairs"] == 4 and preview.manifest["format"] == "kto"
    assert "<strong>8</strong> rows from 4 pairs" in page.text
    assert "&quot;merkle_root&quot;: &quot;computed while the archive is written&quot;" in page.text
    url = page.context["download_url"]
    assert url == "/spaces/trio/export/kto/?min_margin=0.5"
    download = client.get(url)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["rows"], manifest["pairs"]) == (preview.rows, preview.items)
    assert manifest["filters"] == preview.manifest["filters"]


def test_battles_are_counted_as_the_export_builds_them(client, carol, pairs_space):
    client.force_login(carol)
    preview = client.get(PAGE, {"fmt": "battles"}).context["preview"]
    assert (preview.items, preview.item_name) == (6, "battles")


def test_bad_filters_are_named_in_words_and_nothing_is_counted(client, carol, pairs_space):
    client.force_login(carol)
    page = client.get(
        PAGE, {"fmt": "battles", "min_agreement": "0.5", "since": "2026-13-01", "min_margin": "2"}
    )
    errors = page.context["form"].errors
    assert errors["since"] == ["Settled on or after: enter a date as YYYY-MM-DD"]
    assert errors["min_margin"] == ["Smallest margin must be at most 1"]
    assert errors["min_agreement"][0].startswith(
        "Smallest agreement: applies to the pair formats only, not battles"
    )
    assert page.context["preview"] is None and page.context["download_url"] is None
    later = client.get(PAGE, {"fmt": "trl", "since": "2030-01-01"})
    assert later.context["preview"].rows == 0
    assert "Nothing matches these filters" in later.text


def test_only_the_spaces_managers_see_the_page(client, staff, mallory, pairs_space):
    assert client.get(PAGE).status_code == 302  # sign in first
    client.force_login(mallory)
    assert client.get(PAGE, {"fmt": "trl"}).status_code == 404
    client.force_login(staff)
    assert client.get(PAGE, {"fmt": "trl"}).context["preview"].items == 4


def test_the_space_page_links_the_export_page(client, carol, pairs_space):
    client.force_login(carol)
    assert 'href="/spaces/trio/export/"' in client.get("/spaces/trio/").text
