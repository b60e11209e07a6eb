from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file


@pytest.fixture
def tiny_base(db, tmp_path):
    """A registered default base model that is only a tiny llama config: enough to build LoRA
    adapters (shapes only) without the real model, for tests that never generate."""
    from transformers import LlamaConfig

    from agents.models import BaseModel

    directory = tmp_path / "tiny-llama"
    LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    ).save_pretrained(directory)
    return BaseModel.objects.create(name="tiny", path=str(directory), is_default=True)


@pytest.fixture(scope="session")
def model_dir():
    from agents.model_store import default_model_dir

    return default_model_dir()


@pytest.fixture
def default_base(db, model_dir):
    from agents.model_store import ensure_default_base_model

    return ensure_default_base_model()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def perturb_adapter(source_dir, out_dir, *, seed: int, scale: float = 0.05):
    """Copy a peft adapter directory with random (seeded) LoRA B matrices, so the adapter
    actually changes the model's output (a fresh adapter's B is zero)."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(source_dir / "adapter_config.json", out_dir / "adapter_config.json")
    tensors = load_file(str(source_dir / "adapter_model.safetensors"))
    generator = torch.Generator().manual_seed(seed)
    for key, value in tensors.items():
        if "lora_B" in key:
            tensors[key] = torch.randn(value.shape, generator=generator) * scale
    save_file(tensors, str(out_dir / "adapter_model.safetensors"))
    return out_dir
