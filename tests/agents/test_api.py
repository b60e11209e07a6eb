from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services import agent_create


@pytest.fixture
def client_for():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


def test_it_creates_lists_and_edits_own_agents(alice, tiny_base, client_for):
    client = client_for(alice)
    created = client.post(
        "/api/v1/agents/",
        {"name": "api-agent", "temperature": 0.4, "target_modules": ["q_proj"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["temperature"] == 0.4 and body["current_adapter"]["number"] == 0
    listed = client.get("/api/v1/agents/").json()
    assert [a["name"] for a in listed["results"]] == ["api-agent"]
    edited = client.patch(f"/api/v1/agents/{body['id']}/", {"top_k": 5}, format="json")
    assert edited.status_code == 200 and edited.json()["top_k"] == 5


def test_it_answers_bad_values_with_400_and_saves_nothing(alice, tiny_base, client_for):
    response = client_for(alice).post(
        "/api/v1/agents/", {"name": "hot", "temperature": 9}, format="json"
    )
    assert response.status_code == 400
    assert "temperature" in response.json()
    assert Agent.objects.count() == 0


def test_it_hides_other_peoples_agents(alice, mallory, tiny_base, client_for):
    agent = agent_create(owner=alice, name="private", seed=1)
    client = client_for(mallory)
    assert client.get(f"/api/v1/agents/{agent.id}/").status_code == 404
    assert (
        client.patch(f"/api/v1/agents/{agent.id}/", {"top_k": 1}, format="json").status_code == 404
    )
    assert client.post(f"/api/v1/agents/{agent.id}/fork/", {"name": "x"}).status_code == 404
    assert client.get("/api/v1/agents/").json()["results"] == []


def test_it_forks_and_lists_adapter_versions(alice, tiny_base, client_for):
    agent = agent_create(owner=alice, name="orig", seed=1)
    client = client_for(alice)
    fork = client.post(f"/api/v1/agents/{agent.id}/fork/", {"name": "copy"}, format="json")
    assert fork.status_code == 201
    assert fork.json()["forked_from"] == agent.id
    versions = client.get(f"/api/v1/agents/{fork.json()['id']}/adapters/").json()
    assert versions[0]["parent_sha256"] == agent.current_adapter.sha256
    assert client.get("/api/v1/base-models/").json()[0]["name"] == "tiny"
