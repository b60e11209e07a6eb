"""Fixtures shared by the API tests: a signed-in player's client and the published schema."""

import pytest
import yaml
from rest_framework.test import APIClient


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def schema(client):
    return yaml.safe_load(client.get("/api/schema/").content)
