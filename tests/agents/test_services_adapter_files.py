"""Adapter files and the rows that name them: the slow file work runs outside any transaction, and
a row write that fails leaves no file behind.

The failures here are real ones (a unique name taken by a concurrent request, a concurrent
change of the adapter shape, an agent deleted meanwhile), staged by a wrapper around the
project's own slow step that still does the real work."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection, transaction

from agents import adapters
from agents.errors import AgentError, AgentValidationError
from agents.models import AdapterVersion, Agent
from agents.services import adapter_version_create, agent_create, agent_fork, agent_update
from tests.agents.conftest import perturb_adapter


def stored_files(media_root: Path) -> list[Path]:
    folder = media_root / "adapters"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def version_files(version: AdapterVersion) -> list[Path]:
    return sorted(p for p in version.directory.iterdir() if p.is_file())


def wrap(monkeypatch, name: str, before=None, after=None) -> list:
    """Replace ``adapters.<name>`` by a wrapper that still calls the real function, running
    ``before(kwargs)`` / ``after(result)`` around it; returns the list of results."""
    real = getattr(adapters, name)
    results = []

    def wrapper(*args, **kwargs):
        if before:
            before(kwargs)
        result = real(*args, **kwargs)
        results.append(result)
        if after:
            after(result)
        return result

    monkeypatch.setattr(adapters, name, wrapper)
    return results


def a_racer(owner, name, base):
    """Another request takes ``name`` for ``owner`` while this one builds the adapter."""
    return lambda _: Agent.objects.create(
        owner=owner, name=name, base_model=base, target_modules=["q_proj"]
    )


def test_a_failed_create_leaves_no_file_and_no_row(alice, tiny_base, media_root, monkeypatch):
    work_dirs = []
    wrap(monkeypatch, "init_adapter", before=lambda kw: work_dirs.append(kw["out_dir"]))
    wrap(monkeypatch, "store_adapter_dir", after=a_racer(alice, "race", tiny_base))
    with pytest.raises(AgentValidationError) as caught:
        agent_create(owner=alice, name="race", seed=1)
    assert "name" in caught.value.errors
    # Only the racer's row; no version, no stored file, no temp directory.
    assert list(Agent.objects.values_list("name", "current_adapter")) == [("race", None)]
    assert AdapterVersion.objects.count() == 0
    assert stored_files(media_root) == []
    assert work_dirs and not any(d.exists() for d in work_dirs)


def test_a_failed_fork_leaves_only_the_sources_files(alice, tiny_base, media_root, monkeypatch):
    source = agent_create(owner=alice, name="source", seed=1)
    copies = wrap(monkeypatch, "copy_stored_adapter", after=a_racer(alice, "fork", tiny_base))
    with pytest.raises(AgentValidationError, match="already have an agent"):
        agent_fork(agent=source, owner=alice, name="fork")
    assert len(copies) == 1 and not default_storage.exists(copies[0])
    assert stored_files(media_root) == version_files(source.current_adapter)
    assert AdapterVersion.objects.count() == 1
    assert Agent.objects.get(name="fork").current_adapter is None  # the racer's


def test_a_shape_change_that_loses_a_race_saves_nothing(alice, tiny_base, media_root, monkeypatch):
    agent = agent_create(owner=alice, name="shape", seed=1, lora_rank=4)
    first = agent.current_adapter

    def concurrent_edit(_):
        Agent.objects.filter(pk=agent.pk).update(lora_rank=16)

    wrap(monkeypatch, "init_adapter", after=concurrent_edit)
    with pytest.raises(AgentError, match="changed meanwhile"):
        agent_update(agent=agent, by=alice, lora_rank=8, temperature=0.2)
    agent.refresh_from_db()
    assert (agent.lora_rank, agent.temperature, agent.current_adapter) == (16, 0.7, first)
    assert agent.adapter_versions.count() == 1
    assert stored_files(media_root) == version_files(first)


def test_a_failed_version_create_deletes_the_stored_copy(
    alice, tiny_base, media_root, tmp_path, monkeypatch
):
    agent = agent_create(owner=alice, name="trained", seed=1)
    trained = perturb_adapter(agent.current_adapter.directory, tmp_path / "trained", seed=5)
    stored = wrap(
        monkeypatch,
        "store_adapter_dir",
        after=lambda _: Agent.objects.filter(pk=agent.pk).delete(),
    )
    with pytest.raises(Agent.DoesNotExist):
        adapter_version_create(agent=agent, source_dir=trained, created_by="dpo:1")
    assert len(stored) == 1 and not default_storage.exists(stored[0])
    assert not Path(default_storage.path(stored[0])).parent.exists()
    assert AdapterVersion.objects.count() == 0


def test_it_refuses_to_run_inside_a_callers_transaction_and_keeps_no_file(
    alice, tiny_base, media_root
):
    # A longer transaction would hold the database while the adapter is built, and its
    # rollback could not take the files back.
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        agent_create(owner=alice, name="nested", seed=1)
    assert Agent.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_bad_setting_is_refused_before_any_file_is_made(
    alice, tiny_base, media_root, monkeypatch
):
    built = wrap(monkeypatch, "init_adapter")
    agent = agent_create(owner=alice, name="ok", seed=1, lora_rank=4)
    assert len(built) == 1
    with pytest.raises(AgentValidationError):
        agent_update(agent=agent, by=alice, lora_rank=8, top_p=7)
    assert len(built) == 1
    assert stored_files(media_root) == version_files(agent.current_adapter)


@pytest.mark.django_db(transaction=True)
def test_the_slow_file_work_runs_outside_any_transaction(alice, tiny_base, tmp_path, monkeypatch):
    seen: dict[str, list[bool]] = {}

    def record(name):
        return lambda _: seen.setdefault(name, []).append(connection.in_atomic_block)

    for name in (
        "init_adapter",
        "store_adapter_dir",
        "copy_stored_adapter",
        "validate_adapter_dir",
    ):
        wrap(monkeypatch, name, before=record(name))

    agent = agent_create(owner=alice, name="slow", seed=1, lora_rank=4)
    agent = agent_update(agent=agent, by=alice, lora_rank=8)
    fork = agent_fork(agent=agent, owner=alice, name="slow-fork")
    trained = perturb_adapter(agent.current_adapter.directory, tmp_path / "trained", seed=5)
    version = adapter_version_create(agent=agent, source_dir=trained, created_by="dpo:1")

    assert seen == {
        "init_adapter": [False, False],  # create, shape change
        "store_adapter_dir": [False, False, False, False],  # create, update, fork copy, dpo
        "copy_stored_adapter": [False],
        "validate_adapter_dir": [False],
    }
    assert (agent.current_adapter.number, fork.current_adapter.number, version.number) == (1, 0, 2)
