"""The API docs page works on a machine without internet: Swagger UI's files come from the
drf-spectacular-sidecar package through the app's static files, never from a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_the_docs_page_loads_its_assets_from_the_app(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = ASSET.findall(html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert any("swagger-ui-bundle" in a for a in scripts), assets
    external = [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert external == [], f"the docs page would fetch from the internet: {external}"
    for asset in assets:
        if asset.startswith("/static/"):
            path = asset.removeprefix("/static/").split("?")[0]
            assert finders.find(path), f"{asset} is not among the app's static files"


def test_the_schema_it_reads_is_served_by_the_app(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Arena API"
