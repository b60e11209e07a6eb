"""The agent form takes its fields from the service's one list, and the agent services, adapters,
model store and form load no model library when imported (every process imports them): torch,
transformers and peft stay inside the functions that need them."""

from __future__ import annotations

import os
import subprocess
import sys

from django.forms.models import model_to_dict

from agents.models import Agent
from agents.services import SETTINGS_FIELDS
from arena.views.forms import AgentForm


def test_the_agent_form_shows_the_name_and_every_setting_the_service_takes():
    assert list(AgentForm().fields) == ["name", *SETTINGS_FIELDS]


def test_the_agent_form_hands_the_service_exactly_its_settings(db):
    defaults = model_to_dict(Agent(), fields=SETTINGS_FIELDS)
    data = {field: value for field, value in defaults.items() if value is not None}
    form = AgentForm(data={**data, "name": "x", "target_modules": '["q_proj"]'})
    assert form.is_valid(), form.errors
    assert set(form.settings()) == set(SETTINGS_FIELDS)
    assert form.settings()["target_modules"] == ["q_proj"]


def test_importing_the_agent_services_loads_no_model_library():
    code = (
        "import sys, django; django.setup(); "
        "import agents.services, agents.adapters, agents.model_store, arena.views.forms; "
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "arena.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
