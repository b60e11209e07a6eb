"""LoRA adapter files: making a fresh one from a seed, and putting adapter directories in storage.

An adapter is a peft directory (``adapter_model.safetensors`` + ``adapter_config.json``). Its
identity everywhere (inference cache, rollouts, proofs) is the sha256 of the weights file.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path

from django.core.files.base import File
from django.core.files.storage import default_storage

from agents.errors import AgentError
from agents.inference.base import ADAPTER_WEIGHTS, file_sha256
from agents.model_store import offline

ADAPTER_CONFIG = "adapter_config.json"


def lora_config(*, rank: int, alpha: int, dropout: float, target_modules: list[str]):
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
        bias="none",
    )


def init_adapter(
    *,
    base_model_path: str,
    rank: int,
    alpha: int,
    dropout: float,
    target_modules: list[str],
    seed: int,
    out_dir: Path,
) -> str:
    """Write a freshly initialised LoRA adapter for the base model to ``out_dir``; return the
    sha256 of its weights. Same inputs and seed give the same bytes (LoRA B starts at zero, A is
    drawn from the seeded RNG, so the seed is what tells two fresh adapters apart)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    offline()
    config = AutoConfig.from_pretrained(base_model_path)
    # Only the shapes matter, not the base weights: build on the meta device (no compute) then
    # give it uninitialised CPU storage (virtual memory, never touched) so peft can create the
    # LoRA tensors next to real layers; the base weights are never read or saved.
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    skeleton.to_empty(device="cpu")
    cfg = lora_config(rank=rank, alpha=alpha, dropout=dropout, target_modules=target_modules)
    cfg.base_model_name_or_path = str(base_model_path)
    # fork_rng restores the global RNG afterwards: no side effect on the caller's randomness.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            peft_model = get_peft_model(skeleton, cfg)
        except ValueError as exc:  # e.g. target modules the architecture does not have
            raise AgentError(f"cannot build a LoRA adapter for this base model: {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True)
    return file_sha256(out_dir / ADAPTER_WEIGHTS)


def validate_adapter_dir(directory: Path) -> str:
    """Check an adapter directory from outside (a training job, an upload): both files present,
    the config is a LoRA config, the weights parse as safetensors. Returns the weights' sha256."""
    from safetensors import safe_open

    weights, config = directory / ADAPTER_WEIGHTS, directory / ADAPTER_CONFIG
    if not weights.is_file() or not config.is_file():
        raise AgentError(f"an adapter needs {ADAPTER_WEIGHTS} and {ADAPTER_CONFIG}")
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise AgentError(f"{ADAPTER_CONFIG} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("peft_type") != "LORA":
        raise AgentError(f"{ADAPTER_CONFIG} is not a LoRA config")
    try:
        with safe_open(str(weights), framework="pt") as f:
            keys = list(f.keys())
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise AgentError(f"{ADAPTER_WEIGHTS} is not a valid safetensors file: {exc}") from exc
    if not keys or not all("lora_" in key for key in keys):
        raise AgentError(f"{ADAPTER_WEIGHTS} holds no LoRA tensors")
    return file_sha256(weights)


def store_adapter_dir(*, source: Path, owner_id: int, sha256: str) -> str:
    """Copy an adapter directory into storage; return the storage name of its weights file.

    Every call writes a folder of its own (hash prefix + random part), named without the row's
    id: services store the files first and record the row in a short transaction afterwards,
    deleting the folder (``delete_stored_adapter``) when that transaction fails."""

    folder = f"adapters/owner-{owner_id}/{sha256[:12]}-{uuid.uuid4().hex[:16]}"
    weights_name = f"{folder}/{ADAPTER_WEIGHTS}"
    try:
        for filename in (ADAPTER_WEIGHTS, ADAPTER_CONFIG):
            wanted = f"{folder}/{filename}"
            with open(source / filename, "rb") as f:
                saved = default_storage.save(wanted, File(f, name=filename))
            if saved != wanted:
                default_storage.delete(saved)
                raise AgentError(f"storage renamed {wanted} to {saved}")
    except BaseException:
        delete_stored_adapter(weights_name)
        raise
    return weights_name


def copy_stored_adapter(*, weights_name: str, owner_id: int, sha256: str) -> str:
    source = Path(default_storage.path(weights_name)).parent
    return store_adapter_dir(source=source, owner_id=owner_id, sha256=sha256)


def delete_stored_adapter(weights_name: str) -> None:
    """Remove a folder written by ``store_adapter_dir`` whose row never committed."""

    folder = posixpath.dirname(weights_name)
    for filename in (ADAPTER_WEIGHTS, ADAPTER_CONFIG):
        default_storage.delete(f"{folder}/{filename}")
    # The file system storage leaves the emptied folder behind (rmdir keeps a non-empty one).
    with contextlib.suppress(OSError):
        os.rmdir(default_storage.path(folder))


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="arena-adapter-"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = [
    "copy_stored_adapter",
    "delete_stored_adapter",
    "init_adapter",
    "lora_config",
    "remove_dir",
    "store_adapter_dir",
    "temp_dir",
    "validate_adapter_dir",
]
