from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file


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
