from __future__ import annotations

import time

import pytest

from agents.errors import AgentError
from agents.models import BaseModel
from agents.services import base_model_register


@pytest.mark.model
def test_it_provisions_the_default_model_once(model_dir):
    from agents.model_store import READY_MARKER, default_model_dir

    assert (model_dir / "config.json").is_file()
    assert (model_dir / "model.safetensors").is_file()
    assert (model_dir / "tokenizer.json").is_file()
    assert (model_dir / READY_MARKER).is_file()
    started = time.perf_counter()
    assert default_model_dir() == model_dir
    assert time.perf_counter() - started < 0.1


@pytest.mark.model
def test_it_registers_the_default_model_idempotently(db, model_dir):
    from agents.model_store import ensure_default_base_model

    first = ensure_default_base_model()
    second = ensure_default_base_model()
    assert first == second and first.is_default and first.path == str(model_dir)
    assert BaseModel.objects.count() == 1


@pytest.mark.model
def test_it_lets_staff_register_a_model_directory(staff, default_base, model_dir):
    base = base_model_register(name="smol-copy", path=str(model_dir), by=staff)
    assert base.registered_by == staff and not base.is_default
    assert BaseModel.objects.get(is_default=True) == default_base


def test_it_refuses_registration_by_non_staff_or_of_bad_directories(alice, staff, tmp_path):
    with pytest.raises(AgentError, match="staff"):
        base_model_register(name="x", path=str(tmp_path), by=alice)
    with pytest.raises(AgentError, match="not a directory"):
        base_model_register(name="x", path=str(tmp_path / "missing"), by=staff)
    with pytest.raises(AgentError, match="config.json"):
        base_model_register(name="x", path=str(tmp_path), by=staff)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AgentError, match="tokenizer"):
        base_model_register(name="x", path=str(tmp_path), by=staff)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(AgentError, match="config"):
        base_model_register(name="x", path=str(tmp_path), by=staff)
    assert BaseModel.objects.count() == 0
