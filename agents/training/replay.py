"""Re-executing a segment of a recorded run, and measuring how far two adapters are apart.

A verifier (``verify_pol --replay``, after Jia et al., "Proof-of-Learning", IEEE S&P 2021) takes
the checkpoint at step ``a``, the same pairs, order and settings, trains steps ``a+1..b`` again
with ``replay_segment`` and compares the adapter it ends with to the recorded checkpoint at
``b`` (or the final adapter) with ``adapter_distance``. On the machine that trained, an honest
replay is bit-identical (distance 0.0); elsewhere float rounding may differ slightly, so the
verifier compares against a tolerance calibrated from honest replays.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from agents.inference.base import ADAPTER_WEIGHTS
from agents.training import checkpoints, engine
from agents.training.data import chat_row, check_order, total_steps, validate_pairs
from agents.training.dpo import check_base_model
from agents.training.errors import TrainingError
from agents.training.settings import TrainSettings

# Added to the reference norm so an all-zero tensor (a fresh LoRA B) does not divide by zero.
DISTANCE_EPS = 1e-12


def replay_segment(
    *,
    base_model_path: str | Path,
    checkpoint_dir: Path,
    pairs: list[dict],
    data_order: list[int],
    settings: TrainSettings,
    start_step: int,
    end_step: int,
    out_dir: Path | None = None,
) -> Path:
    """Train again from the checkpoint at ``start_step`` through ``end_step``, on the batches
    ``data_order`` gives those steps, with the checkpoint's adapter, optimizer, schedule and RNG
    states. Returns the directory of the adapter it ends with (``out_dir``, or a new temporary
    directory the caller removes)."""
    if not isinstance(settings, TrainSettings):
        raise TrainingError("settings must be a TrainSettings")
    validate_pairs(pairs)
    check_order(data_order, len(pairs))
    base_model_path = check_base_model(base_model_path)
    checkpoint_dir = Path(checkpoint_dir)
    meta = checkpoints.read_meta(checkpoint_dir)
    steps_in_run = total_steps(len(data_order), settings.batch_size)
    if meta["batch_size"] != settings.batch_size or meta["total_steps"] != steps_in_run:
        raise TrainingError(
            f"the checkpoint is of a run of {meta['total_steps']} steps of {meta['batch_size']} "
            f"pairs; the data order and settings give {steps_in_run} steps of {settings.batch_size}"
        )
    if meta["step"] != start_step:
        raise TrainingError(f"the checkpoint is at step {meta['step']}, not {start_step}")
    if not isinstance(end_step, int) or not start_step < end_step <= steps_in_run:
        raise TrainingError(f"end_step must be in ({start_step}, {steps_in_run}], not {end_step}")
    batch = settings.batch_size
    rows = [chat_row(pairs[i]) for i in data_order[start_step * batch : end_step * batch]]

    out_dir = (
        Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="arena-replay-"))
    )
    work_dir = Path(tempfile.mkdtemp(prefix="arena-replay-trainer-"))
    restorer = engine.RngRestorer(checkpoint_dir)
    try:
        with engine.preserved_rng():  # as in train_dpo: the caller keeps its RNG states
            session = engine.build_session(
                base_model_path=base_model_path,
                adapter_dir=checkpoint_dir,
                rows=rows,
                settings=settings,
                precision=engine.choose_precision(settings),
                tokenizer=engine.load_tokenizer(base_model_path),
                work_dir=work_dir,
                steps=end_step - start_step,
                total_steps=steps_in_run,
                callbacks=[restorer.callback()],
            )
            checkpoints.load_optimizer(session.optimizer, checkpoint_dir, session.param_names)
            checkpoints.load_scheduler(session.scheduler, checkpoint_dir)
            session.trainer.train()
            checkpoints.write_adapter(session.model, out_dir, base_model_path=base_model_path)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if not restorer.done:
        raise RuntimeError("the replay ran no step")
    return out_dir


def adapter_distance(dir_a: Path, dir_b: Path) -> float:
    """How far adapter ``a`` is from adapter ``b`` (the reference, e.g. a recorded checkpoint):
    the largest, over the LoRA tensors, of ``||a - b|| / (||b|| + 1e-12)`` with Frobenius norms
    computed in float64. 0.0 means identical weights; a relative change of x in any one tensor
    reads as x. Both must hold the same tensor names and shapes."""
    import torch
    from safetensors.torch import load_file

    tensors = []
    for directory in (dir_a, dir_b):
        path = Path(directory) / ADAPTER_WEIGHTS
        try:
            tensors.append(load_file(str(path)))
        except Exception as exc:  # missing or corrupt file: safetensors' own error types
            raise TrainingError(f"cannot read {path}: {exc}") from exc
    a, b = tensors
    if set(a) != set(b):
        raise TrainingError("the two adapters hold different tensors")
    worst = 0.0
    for key, reference in b.items():
        if a[key].shape != reference.shape:
            raise TrainingError(
                f"{key} has shape {tuple(a[key].shape)} vs {tuple(reference.shape)}"
            )
        ref = reference.to(torch.float64)
        diff = torch.linalg.vector_norm(a[key].to(torch.float64) - ref).item()
        worst = max(worst, diff / (torch.linalg.vector_norm(ref).item() + DISTANCE_EPS))
    return worst
