"""A creator exports a dataset from the export page: filters, the row count and the manifest,
then the download, streamed."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.arena.conftest import (  # noqa: F401 - fixtures pairs_space needs
    agent_factory,
    base_model,
    dave,
    no_broker,
    players,
    scripted_backend,
    space,
    tier,
)
from tests.browser.pages import assert_accessible, snap
from tests.preferences.fixtures import pairs_space  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_creator_exports_a_dataset_from_the_export_page(page, carol, pairs_space):  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "carol-pass-123")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")

    page.goto("/spaces/trio/")
    page.click("text=Export preference data")
    page.wait_for_selector("select[name=fmt]")
    snap(page, "export-page")
    assert_accessible(page)

    page.select_option("select[name=fmt]", "kto")
    page.fill("input[name=min_margin]", "0.5")
    page.click("text=Count rows and show the manifest")
    page.wait_for_selector("[data-testid=export-preview]")
    assert page.locator("[data-testid=export-count]").inner_text().startswith("8 rows from 4")
    assert '"format": "kto"' in page.locator("pre.studio-manifest").inner_text()
    snap(page, "export-preview")
    assert_accessible(page)

    with page.expect_download() as download:
        page.click("[data-testid=export-download]")
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["format"], manifest["rows"], manifest["pairs"]) == ("kto", 8, 4)
