"""Fixtures of the learning tests: the preference fixtures (a space of settled matches whose
pairs an agent trains on) and a base model small enough to train in seconds: the tiny llama
config with random weights and a character-level tokenizer (tests/preferences/training.py)."""

from __future__ import annotations

import pytest

from tests.arena.conftest import (  # noqa: F401 - fixtures used by these tests
    agent_factory,
    base_model,
    dave,
    no_broker,
    players,
    scripted_backend,
    space,
    tier,
)
from tests.preferences.fixtures import pairs_space  # noqa: F401
from tests.preferences.training import tiny_model_dir


@pytest.fixture
def trainable_base(tiny_base, tmp_path):
    """The tiny base, now with random weights and a tokenizer: real DPO steps in seconds."""
    tiny_base.path = tiny_model_dir(tiny_base.path, tmp_path / "tiny-trainable")
    tiny_base.save(update_fields=["path"])
    return tiny_base


@pytest.fixture
def trainee(pairs_space, trainable_base):  # noqa: F811 - the imported fixture
    """Alice's agent "scout" of the trio space, on the trainable base: four kept pairs."""
    scout = pairs_space.scout
    scout.base_model = trainable_base
    scout.lora_rank, scout.lora_alpha, scout.batch_size = 4, 8, 2
    scout.save()
    scout.space = pairs_space
    return scout


@pytest.fixture(autouse=True)
def small_runs(settings):
    settings.ARENA_TRAINING_PRICE = 7
    settings.ARENA_TRAINING_MAX_STEPS = 2
    settings.ARENA_TRAINING_MAX_LENGTH = 128
    settings.ARENA_TRAINING_CHECKPOINT_EVERY = 1
