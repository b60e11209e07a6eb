from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from safetensors.torch import load_file

from agents.errors import AgentError, AgentValidationError
from agents.models import AdapterVersion, Agent
from agents.services import (
    adapter_version_create,
    agent_count_auto_entry,
    agent_create,
    agent_fork,
    agent_update,
)


@pytest.mark.parametrize(
    "field,value",
    [
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("top_p", 0.0),
        ("top_p", 1.01),
        ("top_k", 1001),
        ("max_new_tokens", 0),
        ("max_new_tokens", 5000),
        ("repetition_penalty", 0.9),
        ("lora_rank", 0),
        ("lora_rank", 512),
        ("lora_dropout", 0.9),
        ("learning_rate", 0.0),
        ("dpo_beta", 0.0),
        ("epochs", 0),
        ("batch_size", 1000),
        ("target_modules", ["not_a_layer"]),
        ("target_modules", []),
    ],
)
def test_it_refuses_out_of_range_settings_and_saves_nothing(alice, tiny_base, field, value):
    with pytest.raises(AgentValidationError) as caught:
        agent_create(owner=alice, name="bad", **{field: value})
    assert field in caught.value.errors
    assert Agent.objects.count() == 0
    assert AdapterVersion.objects.count() == 0


def test_it_refuses_unknown_settings(alice, tiny_base):
    with pytest.raises(AgentError, match="unknown agent settings"):
        agent_create(owner=alice, name="x", owner_id=3)
    assert Agent.objects.count() == 0


def test_it_enforces_ranges_in_the_database_too(alice, tiny_base):
    agent = agent_create(owner=alice, name="ok", seed=1)
    for field, value in [("temperature", 3.0), ("top_p", 0.0), ("max_new_tokens", 0)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Agent.objects.filter(pk=agent.pk).update(**{field: value})
    agent.refresh_from_db()
    assert agent.temperature == 0.7


def test_it_creates_version_zero_from_a_recorded_seed(alice, tiny_base):
    agent = agent_create(owner=alice, name="seeded", seed=1234, lora_rank=4)
    version = agent.current_adapter
    assert (version.number, version.seed, version.created_by, version.parent) == (
        0,
        1234,
        "init",
        None,
    )
    directory = version.directory
    assert (directory / "adapter_config.json").is_file()
    tensors = load_file(str(directory / "adapter_model.safetensors"))
    a_keys = [k for k in tensors if "lora_A" in k]
    b_keys = [k for k in tensors if "lora_B" in k]
    assert a_keys and b_keys
    # LoRA starts as a no-op: B is zero, A random.
    assert all(float(tensors[k].abs().sum()) == 0.0 for k in b_keys)
    assert all(float(tensors[k].abs().sum()) > 0.0 for k in a_keys)
    assert tensors[a_keys[0]].shape[0] == 4


def test_it_makes_the_same_adapter_from_the_same_seed(alice, bob, tiny_base):
    one = agent_create(owner=alice, name="one", seed=42)
    two = agent_create(owner=bob, name="two", seed=42)
    three = agent_create(owner=bob, name="three", seed=43)
    assert one.current_adapter.sha256 == two.current_adapter.sha256
    assert one.current_adapter.sha256 != three.current_adapter.sha256
    assert one.current_adapter.file.name != two.current_adapter.file.name


def test_it_refuses_two_agents_of_one_owner_with_one_name(alice, tiny_base):
    agent_create(owner=alice, name="same", seed=1)
    with pytest.raises(AgentValidationError):
        agent_create(owner=alice, name="same", seed=2)
    assert Agent.objects.count() == 1


def test_it_forks_settings_and_adapter_with_a_parent_link(alice, tiny_base):
    source = agent_create(
        owner=alice, name="source", seed=7, temperature=0.3, system_prompt="Be brief.", top_k=12
    )
    fork = agent_fork(agent=source, owner=alice, name="fork")
    assert fork.forked_from == source
    assert (fork.temperature, fork.system_prompt, fork.top_k) == (0.3, "Be brief.", 12)
    version = fork.current_adapter
    assert version.agent == fork and version.number == 0
    assert version.parent == source.current_adapter
    assert version.sha256 == source.current_adapter.sha256
    assert version.directory != source.current_adapter.directory
    assert version.created_by.startswith(f"fork:{source.id}")


def test_it_lets_only_the_owner_fork_or_edit(alice, mallory, tiny_base):
    agent = agent_create(owner=alice, name="mine", seed=1)
    with pytest.raises(AgentError):
        agent_fork(agent=agent, owner=mallory, name="stolen")
    with pytest.raises(AgentError):
        agent_update(agent=agent, by=mallory, temperature=0.1)
    assert Agent.objects.count() == 1
    agent.refresh_from_db()
    assert agent.temperature == 0.7


def test_it_updates_settings_and_refuses_bad_values_atomically(alice, tiny_base):
    agent = agent_create(owner=alice, name="edit", seed=1)
    agent_update(agent=agent, by=alice, temperature=0.2, max_new_tokens=64)
    agent.refresh_from_db()
    assert (agent.temperature, agent.max_new_tokens) == (0.2, 64)
    with pytest.raises(AgentValidationError):
        agent_update(agent=agent, by=alice, temperature=0.9, top_p=7)
    agent.refresh_from_db()
    assert agent.temperature == 0.2


def test_it_starts_a_fresh_adapter_when_the_lora_shape_changes(alice, tiny_base):
    agent = agent_create(owner=alice, name="shape", seed=1, lora_rank=4)
    first = agent.current_adapter
    agent = agent_update(agent=agent, by=alice, lora_rank=8)
    assert agent.current_adapter.number == 1
    assert agent.current_adapter.sha256 != first.sha256
    agent = agent_update(agent=agent, by=alice, temperature=0.5)
    assert agent.current_adapter.number == 1


def test_it_registers_a_trained_adapter_version(alice, tiny_base, tmp_path):
    from tests.agents.conftest import perturb_adapter

    agent = agent_create(owner=alice, name="trained", seed=1)
    parent = agent.current_adapter
    out = perturb_adapter(parent.directory, tmp_path / "trained", seed=5)
    version = adapter_version_create(agent=agent, source_dir=out, created_by="dpo:1", parent=parent)
    agent.refresh_from_db()
    assert agent.current_adapter == version
    assert (version.number, version.parent, version.created_by) == (1, parent, "dpo:1")
    assert version.sha256 != parent.sha256


def test_it_refuses_a_bad_adapter_directory(alice, tiny_base, tmp_path):
    agent = agent_create(owner=alice, name="a", seed=1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (bad / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AgentError, match="safetensors"):
        adapter_version_create(agent=agent, source_dir=bad, created_by="dpo:2")
    assert agent.adapter_versions.count() == 1


def test_it_counts_automatic_entries_within_limits(alice, tiny_base):
    agent = agent_create(owner=alice, name="auto", seed=1, auto_max_matches=2, auto_budget=25)
    assert agent_count_auto_entry(agent=agent, fee=10)
    assert agent_count_auto_entry(agent=agent, fee=10)
    assert not agent_count_auto_entry(agent=agent, fee=1)  # match cap reached
    agent.refresh_from_db()
    assert (agent.auto_matches_entered, agent.auto_budget) == (2, 5)


def test_it_stores_adapters_in_media_storage(alice, tiny_base, media_root):
    agent = agent_create(owner=alice, name="stored", seed=1)
    path = Path(default_storage.path(agent.current_adapter.file.name))
    assert path.is_file() and str(path).startswith(str(media_root))


def test_it_refuses_an_automation_fee_tier_of_another_space(alice, carol, tiny_base):
    from spaces.economics import PLATFORM
    from spaces.services import space_create

    def make_space(slug):
        return space_create(
            creator=carol,
            actor=PLATFORM,
            slug=slug,
            title=slug,
            judge_panel=[{"kind": "pairwise-llm"}],
            payout_shares=["1"],
            fee_tiers=[("std", 10)],
        )

    one, two = make_space("one"), make_space("two")
    agent = agent_create(owner=alice, name="auto", seed=1)
    with pytest.raises(AgentValidationError, match="another space"):
        agent_update(agent=agent, by=alice, auto_enter_space=one, auto_fee_tier=two.fee_tiers.get())
    agent = agent_update(
        agent=agent,
        by=alice,
        auto_enter_space=one,
        auto_fee_tier=one.fee_tiers.get(),
        auto_max_matches=3,
        auto_budget=30,
    )
    assert agent.auto_fee_tier.space == one
