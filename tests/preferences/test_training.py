"""Each training format trains one step of TRL's trainer as it is: DPOTrainer on trl, trl-chat,
parquet and hf exports, KTOTrainer on kto; a tiny random llama, no downloads."""

from __future__ import annotations

import math

import pytest
from django.core.management import call_command

from tests.preferences.test_export_command import load
from tests.preferences.training import tiny_model_dir, train_one_step

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fmt, trainer",
    [("trl", "dpo"), ("trl-chat", "dpo"), ("parquet", "dpo"), ("hf", "dpo"), ("kto", "kto")],
)
def test_an_export_trains_one_step(pairs_space, tiny_base, tmp_path, fmt, trainer):
    out = tmp_path / "export"
    args = ["--include-system-prompt"] if fmt == "trl-chat" else []
    call_command("export_preferences", "--space", "trio", "--format", fmt, "--out", str(out), *args)
    dataset = load(fmt, out, tmp_path / "cache")
    model_dir = tiny_model_dir(tiny_base.path, tmp_path / "model")
    result = train_one_step(trainer, dataset, model_dir, tmp_path / "run")
    assert result.global_step == 1
    assert math.isfinite(result.training_loss)
