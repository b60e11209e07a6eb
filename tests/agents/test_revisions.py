"""Agent configuration revisions: the services record one for every configuration an agent gets
(create: r1, a changed update: the next one, a fork: the fork's r1), none for a change that
leaves the configuration as it was, and number them uniquely under concurrent updates."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from agents.errors import AgentValidationError
from agents.models import AgentRevision
from agents.revisions import diff, history, revision_record
from agents.services import agent_create, agent_fork, agent_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def scout(alice, tiny_base):
    return agent_create(owner=alice, name="scout", base_model=tiny_base, seed=1, top_k=40)


def numbers(agent) -> list[int]:
    return list(agent.revisions.order_by("number").values_list("number", flat=True))


def test_creating_an_agent_records_revision_one_with_its_configuration(alice, scout):
    [first] = scout.revisions.all()
    assert first.number == 1 and first.created_by == alice
    assert first.config["top_k"] == 40
    assert first.config["target_modules"] == ["q_proj", "v_proj"]
    assert set(first.config) >= {"system_prompt", "temperature", "lora_rank", "dpo_beta"}


def test_a_changed_setting_records_the_next_revision_with_the_note(alice, scout):
    agent_update(agent=scout, by=alice, system_prompt="Answer with a number.", note="terse")
    agent_update(agent=scout, by=alice, temperature=0.2)
    assert numbers(scout) == [1, 2, 3]
    second, third = scout.revisions.get(number=2), scout.revisions.get(number=3)
    assert second.config["system_prompt"] == "Answer with a number." and second.note == "terse"
    assert third.config["temperature"] == 0.2 and third.note == ""
    assert diff(second, third) == [("Temperature", "0.7", "0.2")]


def test_an_update_that_changes_no_configuration_records_nothing(alice, scout):
    agent_update(agent=scout, by=alice, name="scout-2", auto_budget=5, note="renamed")
    agent_update(agent=scout, by=alice, top_k=40)  # the value it already has
    agent_update(agent=scout, by=alice, share_prompt=True)
    assert numbers(scout) == [1]


def test_reverting_a_change_is_a_new_revision_not_the_old_one(alice, scout):
    agent_update(agent=scout, by=alice, temperature=0.3)
    agent_update(agent=scout, by=alice, temperature=0.7)
    assert numbers(scout) == [1, 2, 3]
    assert scout.revisions.get(number=3).config == scout.revisions.get(number=1).config


def test_a_refused_update_records_no_revision_and_a_long_note_is_refused(alice, scout):
    with pytest.raises(AgentValidationError) as refused:
        agent_update(agent=scout, by=alice, temperature=9)
    assert "temperature" in refused.value.errors
    with pytest.raises(AgentValidationError) as refused:
        agent_update(agent=scout, by=alice, temperature=0.1, note="x" * 201)
    assert "note" in refused.value.errors and "201 characters" in str(refused.value)
    scout.refresh_from_db()
    assert scout.temperature == 0.7 and numbers(scout) == [1]


def test_a_fork_starts_at_revision_one_naming_its_source_revision(alice, scout):
    agent_update(agent=scout, by=alice, system_prompt="v2", share_prompt=True)
    fork = agent_fork(agent=scout, owner=alice, name="scout-fork")
    [first] = fork.revisions.all()
    assert first.number == 1 and first.note == "fork of scout r2"
    assert first.config == scout.revisions.get(number=2).config
    assert fork.share_prompt is False  # sharing is chosen per agent


def test_diff_names_fields_in_words_and_can_hide_the_prompt(alice, scout):
    agent_update(agent=scout, by=alice, system_prompt="secret", target_modules=["q_proj"], epochs=2)
    old, new = scout.revisions.get(number=1), scout.revisions.get(number=2)
    assert diff(old, new) == [
        ("System prompt", "(none)", "secret"),
        ("LoRA target modules", "q_proj, v_proj", "q_proj"),
        ("Epochs", "1", "2"),
    ]
    hidden = diff(old, new, show_prompt=False)
    assert hidden[0] == ("System prompt", "(not shared)", "(not shared)")
    assert "secret" not in str(hidden)
    rows = history(scout, show_prompt=False)
    assert [row["revision"].number for row in rows] == [2, 1]
    assert rows[1]["first"] and "secret" not in str(rows[0]["changes"])


def test_a_configuration_written_past_the_services_is_recorded_when_it_is_read(alice, scout):
    # The admin or a shell: the rollout's revision_record still attributes it correctly.
    type(scout).objects.filter(pk=scout.pk).update(top_p=0.5)
    scout.refresh_from_db()
    revision = revision_record(scout)
    assert revision.number == 2 and revision.config["top_p"] == 0.5
    assert revision_record(scout) == revision  # the same configuration: the same revision


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_number_their_revisions_uniquely(alice, tiny_base):
    agent = agent_create(owner=alice, name="racer", base_model=tiny_base, seed=2)
    barrier = threading.Barrier(4)
    errors = []

    def update(k: int):
        try:
            barrier.wait(timeout=30)
            agent_update(agent=agent, by=alice, top_k=k, note=f"top_k {k}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=update, args=(k,)) for k in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert numbers(agent) == [1, 2, 3, 4, 5]
    latest = AgentRevision.objects.filter(agent=agent).order_by("-number").first()
    agent.refresh_from_db()
    assert latest.config["top_k"] == agent.top_k  # the last writer's is the latest revision
    assert sorted(r.config["top_k"] for r in agent.revisions.exclude(number=1)) == [1, 2, 3, 4]
