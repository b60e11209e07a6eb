"""Checkpoint directories: everything needed to resume training at a step, in files whose bytes
depend only on the training state (no pickles, no paths, no timestamps), so honest runs give the
same hashes and a verifier can load them without running untrusted code.

Files of ``step-NNNNNN/``:

- ``adapter_model.safetensors``, ``adapter_config.json``: the LoRA adapter (a peft directory;
  the config names no base model path, the proof record names the base model by hash);
- ``optimizer.safetensors``: AdamW's per-parameter state, keys ``state.<index>.<name>``;
- ``optimizer.json``: its param groups and the parameter name of every index;
- ``scheduler.json``: the learning-rate scheduler's state;
- ``rng.safetensors`` / ``rng.json``: torch (CPU and CUDA), Python and numpy RNG states, as the
  next step will find them;
- ``meta.json``: the step, the run's total steps and batch size;
- ``manifest.json``: the sha256 of each file above. The checkpoint's sha256 is the sha256 of the
  canonical JSON of that mapping (``checkpoint_sha256``), recomputed from the files.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

from agents.adapters import ADAPTER_CONFIG
from agents.inference.base import ADAPTER_WEIGHTS, file_sha256
from agents.training.errors import TrainingError
from ledger.canonical import canonical_json, sha256_hex

FORMAT = "arena-dpo-checkpoint/1"
MANIFEST = "manifest.json"
META = "meta.json"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
SCHEDULER_JSON = "scheduler.json"
RNG_TENSORS = "rng.safetensors"
RNG_JSON = "rng.json"


def checkpoint_dir_name(step: int) -> str:
    return f"step-{step:06d}"


def file_manifest(directory: Path) -> dict[str, str]:
    return {
        path.name: file_sha256(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def checkpoint_sha256(directory: Path) -> str:
    """sha256 of the canonical JSON {file name: file sha256} of every file but the manifest."""
    manifest = file_manifest(Path(directory))
    return sha256_hex(canonical_json(manifest))


# --- adapters -------------------------------------------------------------------------------


def write_adapter(model, directory: Path, *, base_model_path: str | None) -> str:
    """Write the model's trainable LoRA adapter ("default") as a peft directory, as peft's
    ``save_pretrained`` would (same keys, same safetensors metadata). Returns its sha256."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = get_peft_model_state_dict(model, adapter_name="default")
    tensors = {key: value.detach().to("cpu").contiguous() for key, value in state.items()}
    save_file(tensors, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    config = copy.deepcopy(model.peft_config["default"])
    config.base_model_name_or_path = base_model_path
    config.inference_mode = True
    data = config.to_dict()
    # peft writes sets (target_modules) in set order, which changes with the process's hash
    # seed; sorted, the file is the same in every process.
    for key, value in data.items():
        if isinstance(value, set):
            data[key] = sorted(value)
    (directory / ADAPTER_CONFIG).write_text(json.dumps(data, indent=2, sort_keys=True))
    return file_sha256(directory / ADAPTER_WEIGHTS)


def load_adapter_weights(model, directory: Path) -> None:
    """Put the LoRA weights of ``directory`` into the model's trainable adapter; every LoRA
    tensor of the model must be there, with its shape."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = Path(directory) / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise TrainingError(f"no {ADAPTER_WEIGHTS} in {directory}")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise TrainingError(f"{weights} is not a valid safetensors file: {exc}") from exc
    expected = get_peft_model_state_dict(model, adapter_name="default")
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise TrainingError(
            f"the adapter in {directory} does not fit the settings: "
            f"{len(missing)} LoRA tensors missing, {len(extra)} unexpected "
            f"(e.g. {(missing or extra)[0]})"
        )
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise TrainingError(
                f"the adapter in {directory} does not fit the settings: {key} has shape "
                f"{tuple(value.shape)}, the model wants {tuple(expected[key].shape)}"
            )
    set_peft_model_state_dict(model, tensors, adapter_name="default")


def check_adapter_config(directory: Path, *, rank: int, alpha: int, target_modules) -> None:
    """A parent adapter must have the shape the settings ask for: training it under another
    rank, scale or set of modules would silently train something else."""
    path = Path(directory) / ADAPTER_CONFIG
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read the parent adapter's {ADAPTER_CONFIG}: {exc}") from exc
    found = {
        "rank": data.get("r"),
        "alpha": data.get("lora_alpha"),
        "target_modules": sorted(data.get("target_modules") or []),
    }
    wanted = {"rank": rank, "alpha": alpha, "target_modules": sorted(target_modules)}
    differ = [
        f"{k} {found[k]!r} (settings: {wanted[k]!r})" for k in wanted if found[k] != wanted[k]
    ]
    if differ:
        raise TrainingError("the parent adapter does not match the settings: " + ", ".join(differ))


# --- optimizer, scheduler, RNG --------------------------------------------------------------


def _optimizer_files(optimizer, param_names: list[str]) -> tuple[dict, dict]:
    state = optimizer.state_dict()
    tensors = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if hasattr(value, "detach"):
                tensors[f"state.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [dict(group) for group in state["param_groups"]]
    return tensors, {"param_groups": groups, "param_names": param_names, "scalars": scalars}


def _rng_files() -> tuple[dict, dict]:
    import numpy as np
    import torch

    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda.{i}"] = state
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return tensors, {
        "python": [version, list(internal), gauss],
        "numpy": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
    }


def save_checkpoint(
    directory: Path,
    *,
    model,
    optimizer,
    scheduler,
    param_names: list[str],
    step: int,
    total_steps: int,
    batch_size: int,
) -> str:
    """Write a checkpoint directory; return its sha256."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=False)
    write_adapter(model, directory, base_model_path=None)
    opt_tensors, opt_json = _optimizer_files(optimizer, param_names)
    save_file(opt_tensors, str(directory / OPTIMIZER_TENSORS))
    (directory / OPTIMIZER_JSON).write_bytes(canonical_json(opt_json))
    (directory / SCHEDULER_JSON).write_bytes(canonical_json(scheduler.state_dict()))
    rng_tensors, rng_json = _rng_files()
    save_file(rng_tensors, str(directory / RNG_TENSORS))
    (directory / RNG_JSON).write_bytes(canonical_json(rng_json))
    meta = {"format": FORMAT, "step": step, "total_steps": total_steps, "batch_size": batch_size}
    (directory / META).write_bytes(canonical_json(meta))
    (directory / MANIFEST).write_bytes(canonical_json(file_manifest(directory)))
    return checkpoint_sha256(directory)


def read_meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((Path(directory) / META).read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{directory} is not a training checkpoint: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TrainingError(f"{directory} is not a checkpoint of format {FORMAT}")
    return meta


def load_optimizer(optimizer, directory: Path, param_names: list[str]) -> None:
    from safetensors.torch import load_file

    data = json.loads((directory / OPTIMIZER_JSON).read_text())
    if data["param_names"] != param_names:
        raise TrainingError("the checkpoint's optimizer state is for other parameters")
    tensors = load_file(str(directory / OPTIMIZER_TENSORS))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in data["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in data["param_groups"]:
        group = dict(group)
        if "betas" in group:  # JSON has no tuples; AdamW keeps them as one
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def load_scheduler(scheduler, directory: Path) -> None:
    scheduler.load_state_dict(json.loads((directory / SCHEDULER_JSON).read_text()))


def restore_rng(directory: Path) -> None:
    import numpy as np
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(directory / RNG_TENSORS))
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = sorted(k for k in tensors if k.startswith("torch_cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    data = json.loads((directory / RNG_JSON).read_text())
    version, internal, gauss = data["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = data["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
