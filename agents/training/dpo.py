"""One DPO run: pairs in, a new LoRA adapter out, with everything a proof record commits to.

``train_dpo`` starts from the parent adapter (or, without one, from the fresh adapter
``agents.adapters.init_adapter`` makes from the run's seed), trains it with TRL's DPOTrainer
against the base model with the adapter disabled, and returns a ``TrainResult``: the adapter and
its sha256, the order the pairs were seen in, the metrics of every step, the checkpoints (every
``checkpoint_every`` steps) and their sha256, how the model was run, library versions.

On the CPU a run is deterministic: the same base model, parent, pairs, settings and seed give
the same adapter bytes (on the same machine; another CPU or thread count may differ in the last
bits, which is why replays compare with a tolerance, see ``replay``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.adapters import init_adapter, validate_adapter_dir
from agents.inference.base import ADAPTER_WEIGHTS, file_sha256
from agents.training import checkpoints, engine
from agents.training.data import chat_row, planned_order, total_steps, validate_pairs
from agents.training.errors import TrainingError
from agents.training.settings import FIXED, TrainSettings

ADAPTER_SUBDIR = "adapter"
INITIAL_ADAPTER_SUBDIR = "initial-adapter"
CHECKPOINTS_SUBDIR = "checkpoints"
WORK_SUBDIR = ".trainer"


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    adapter_sha256: str
    parent_sha256: str  # the adapter training started from (the parent, or the fresh one)
    steps: int
    checkpoints: list[dict[str, Any]]  # {step, sha256, path}, step 0 first
    data_order: list[int]  # pair indices in the order seen; batch s = [s*bs:(s+1)*bs]
    metrics: list[
        dict[str, float]
    ]  # one per step: {"step": n, "loss": ..., "rewards/margins": ...}
    final_metrics: dict[str, float]
    quantization: str  # "nf4" | "none"
    quantization_reason: str
    device: str
    hyperparameters: dict[str, Any]  # the settings, the fixed choices, total steps, trainer seed
    library_versions: dict[str, str | None]
    pair_count: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (paths as strings)."""
        return {
            "adapter_dir": str(self.adapter_dir),
            "adapter_sha256": self.adapter_sha256,
            "parent_sha256": self.parent_sha256,
            "steps": self.steps,
            "checkpoints": [{**c, "path": str(c["path"])} for c in self.checkpoints],
            "data_order": list(self.data_order),
            "metrics": [dict(m) for m in self.metrics],
            "final_metrics": dict(self.final_metrics),
            "quantization": self.quantization,
            "quantization_reason": self.quantization_reason,
            "device": self.device,
            "hyperparameters": dict(self.hyperparameters),
            "library_versions": dict(self.library_versions),
            "seconds": self.seconds,
            "pair_count": self.pair_count,
        }


def check_base_model(base_model_path: Any) -> str:
    path = Path(str(base_model_path))
    if not (path / "config.json").is_file():
        raise TrainingError(f"no base model (config.json) at {path}")
    return str(path)


def check_prompt_lengths(tokenizer, pairs: list[dict], max_length: int) -> None:
    """A prompt that fills max_length leaves the answer no token: the pair would teach nothing."""
    for index, pair in enumerate(pairs):
        ids = tokenizer.apply_chat_template(
            chat_row(pair)["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        if len(ids) >= max_length:
            raise TrainingError(
                f"pair {index}: the prompt is {len(ids)} tokens; max_length {max_length} "
                "leaves no room for the answer"
            )


def _remove_written(out_dir: Path, *, created: bool) -> None:
    if created:
        shutil.rmtree(out_dir, ignore_errors=True)
        return
    for child in out_dir.iterdir():  # it was empty: leave it empty
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def hyperparameters(settings: TrainSettings, steps: int) -> dict[str, Any]:
    return {
        **settings.as_dict(),
        **FIXED,
        "total_steps": steps,
        "trainer_seed": settings.trainer_seed,
    }


def train_dpo(
    *,
    base_model_path: str | Path,
    parent_adapter_dir: Path | None,
    pairs: list[dict],
    settings: TrainSettings,
    out_dir: Path,
    on_step: Callable[[int, dict[str, float]], Any] | None = None,
) -> TrainResult:
    """Train a LoRA adapter with DPO on ``pairs``; write it to ``out_dir/adapter`` and the
    checkpoints to ``out_dir/checkpoints/step-NNNNNN``. ``out_dir`` must be empty or absent.

    ``on_step(step, metrics)`` is called after every optimizer step with TRL's logged metrics
    (``loss``, ``rewards/margins``, ``rewards/accuracies``, ...); an exception it raises stops
    training and propagates. Bad input is refused before anything is written; a run that fails
    part-way removes what it wrote."""
    started = time.monotonic()
    # The trainer seeds the global RNGs, and loading its libraries draws from Python's: give
    # the caller its RNG states back whatever happens.
    with engine.preserved_rng():
        return _train(
            base_model_path=base_model_path,
            parent_adapter_dir=parent_adapter_dir,
            pairs=pairs,
            settings=settings,
            out_dir=out_dir,
            on_step=on_step,
            started=started,
        )


def _train(
    *,
    base_model_path: Any,
    parent_adapter_dir: Path | None,
    pairs: list[dict],
    settings: TrainSettings,
    out_dir: Path,
    on_step: Callable[[int, dict[str, float]], Any] | None,
    started: float,
) -> TrainResult:
    if not isinstance(settings, TrainSettings):
        raise TrainingError("settings must be a TrainSettings")
    validate_pairs(pairs)
    base_model_path = check_base_model(base_model_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise TrainingError(f"the output directory {out_dir} is not empty")
    if parent_adapter_dir is not None:
        parent_adapter_dir = Path(parent_adapter_dir)
        validate_adapter_dir(parent_adapter_dir)
        checkpoints.check_adapter_config(
            parent_adapter_dir,
            rank=settings.rank,
            alpha=settings.alpha,
            target_modules=settings.target_modules,
        )
    tokenizer = engine.load_tokenizer(base_model_path)
    check_prompt_lengths(tokenizer, pairs, settings.max_length)
    order = planned_order(len(pairs), settings)
    steps = total_steps(len(order), settings.batch_size)
    precision = engine.choose_precision(settings)

    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if parent_adapter_dir is None:
            parent_adapter_dir = out_dir / INITIAL_ADAPTER_SUBDIR
            init_adapter(
                base_model_path=base_model_path,
                rank=settings.rank,
                alpha=settings.alpha,
                dropout=settings.dropout,
                target_modules=list(settings.target_modules),
                seed=settings.seed,
                out_dir=parent_adapter_dir,
            )
        recorder = engine.StepRecorder(
            settings=settings,
            checkpoint_root=out_dir / CHECKPOINTS_SUBDIR,
            total_steps=steps,
            on_step=on_step,
        )
        session = engine.build_session(
            base_model_path=base_model_path,
            adapter_dir=parent_adapter_dir,
            rows=[chat_row(pairs[i]) for i in order],
            settings=settings,
            precision=precision,
            tokenizer=tokenizer,
            work_dir=out_dir / WORK_SUBDIR,
            steps=steps,
            total_steps=steps,
            callbacks=[recorder.callback()],
        )
        recorder.param_names = session.param_names
        session.trainer.train()
        adapter_dir = out_dir / ADAPTER_SUBDIR
        adapter_sha256 = checkpoints.write_adapter(
            session.model, adapter_dir, base_model_path=base_model_path
        )
    except BaseException:
        _remove_written(out_dir, created=created)
        raise
    shutil.rmtree(out_dir / WORK_SUBDIR, ignore_errors=True)
    if len(recorder.metrics) != steps:
        raise RuntimeError(f"the trainer logged {len(recorder.metrics)} steps of {steps}")
    final = {k: v for k, v in recorder.metrics[-1].items() if k != "step"}
    final.update(recorder.summary)
    return TrainResult(
        adapter_dir=adapter_dir,
        adapter_sha256=adapter_sha256,
        parent_sha256=file_sha256(parent_adapter_dir / ADAPTER_WEIGHTS),
        steps=steps,
        checkpoints=recorder.checkpoints,
        data_order=order,
        metrics=recorder.metrics,
        final_metrics=final,
        quantization=precision.quantization,
        quantization_reason=precision.reason,
        device=precision.device,
        hyperparameters=hyperparameters(settings, steps),
        library_versions=engine.library_versions(),
        seconds=round(time.monotonic() - started, 3),
        pair_count=len(pairs),
    )
