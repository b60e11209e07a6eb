"""The pieces a training run and a replay share: where and in what precision the model runs,
the trainer built around it, the optimizer and schedule, and the callbacks.

TRL facts this relies on (trl 0.29, read in its source):

- ``DPOTrainer(model=<base model>, ref_model=None, peft_config=LoraConfig)`` wraps the model with
  ``get_peft_model`` and, having no reference model, computes the reference log-probs with the
  adapter disabled (``use_adapter(model, None)`` = ``model.disable_adapter()``): the reference is
  the base model. (Given a ``PeftModel`` instead, it would copy the adapter into a second adapter
  named "ref" and use that: the parent, not the base. We hand it the base and load the parent's
  weights into the trainable adapter afterwards, so the reference stays the base model.)
- ``DPOConfig`` inherits TRL's defaults ``bf16=True`` and ``gradient_checkpointing=True``: both
  are set explicitly (off on the CPU).
- ``disable_dropout`` defaults to True and would zero the LoRA dropout the agent asked for; it is
  turned off so ``lora_dropout`` is honoured.
- Logged per step: ``loss``, ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``,
  ``rewards/accuracies``, ``logps/chosen``, ``logps/rejected``, ... (``logging_steps=1``).
"""

from __future__ import annotations

import importlib.metadata
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.adapters import lora_config
from agents.model_store import offline
from agents.training import checkpoints
from agents.training.settings import FIXED, TrainSettings

LIBRARIES = ("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets")
# Per-step log keys that measure time, not training: kept out of the recorded metrics, which a
# proof record commits to and an honest rerun must reproduce.
_TIMING_KEYS = ("runtime", "per_second")


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass(frozen=True)
class Precision:
    device: str  # "cpu" | "cuda"
    quantization: str  # "nf4" | "none"
    reason: str
    bf16: bool = False


def choose_precision(
    settings: TrainSettings, *, cuda: bool | None = None, bitsandbytes: bool | None = None
) -> Precision:
    """4-bit NF4 (QLoRA) only where the settings ask for it and bitsandbytes can run it (a CUDA
    device); full precision otherwise, with the reason."""
    import torch

    cuda = torch.cuda.is_available() if cuda is None else cuda
    device = "cuda" if cuda else "cpu"
    if not settings.load_in_4bit:
        return Precision(device, "none", "full precision: the settings turn load_in_4bit off")
    if not cuda:
        return Precision(
            device, "none", "full precision: 4-bit NF4 needs a CUDA device for bitsandbytes"
        )
    if bitsandbytes is None:
        try:
            importlib.metadata.version("bitsandbytes")
            bitsandbytes = True
        except importlib.metadata.PackageNotFoundError:
            bitsandbytes = False
    if not bitsandbytes:
        return Precision(device, "none", "full precision: bitsandbytes is not installed")
    # bf16 compute where the GPU has it (Ampere and later), fp16 before.
    bf16 = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else True
    return Precision(device, "nf4", "4-bit NF4 base via bitsandbytes on CUDA (QLoRA)", bf16=bf16)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """The trainer seeds the global RNGs (torch, numpy, Python); give the caller's back after."""
    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def load_base_model(base_model_path: str, precision: Precision):
    import torch
    from transformers import AutoModelForCausalLM

    if precision.quantization == "nf4":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if precision.bf16 else torch.float16
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_use_double_quant=True,
        )
        model = AutoModelForCausalLM.from_pretrained(
            base_model_path, quantization_config=quantization, dtype=compute, device_map={"": 0}
        )
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    return AutoModelForCausalLM.from_pretrained(base_model_path, dtype=torch.float32)


def load_tokenizer(base_model_path: str):
    from transformers import AutoTokenizer

    offline()
    tokenizer = AutoTokenizer.from_pretrained(base_model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@dataclass
class Session:
    trainer: Any
    model: Any  # the PeftModel being trained
    optimizer: Any
    scheduler: Any
    param_names: list[str]


def build_session(
    *,
    base_model_path: str,
    adapter_dir: Path,
    rows: list[dict],
    settings: TrainSettings,
    precision: Precision,
    tokenizer,
    work_dir: Path,
    steps: int,
    total_steps: int,
    callbacks: list,
) -> Session:
    """A DPOTrainer over ``rows`` (in this order, ``settings.batch_size`` a step) for ``steps``
    optimizer steps, its trainable adapter holding the weights of ``adapter_dir``, with an AdamW
    and a linear schedule over ``total_steps`` (the whole run's, so a replayed segment follows
    the same schedule)."""
    import torch
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from torch.utils.data import SequentialSampler
    from transformers import get_linear_schedule_with_warmup
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOConfig, DPOTrainer

    class SequentialDPOTrainer(DPOTrainer):
        """Batches in the order of the dataset: the order was decided (and recorded) by us."""

        def _get_train_sampler(self, train_dataset=None):
            return SequentialSampler(
                train_dataset if train_dataset is not None else self.train_dataset
            )

    offline()
    disable_progress_bar()
    cpu = precision.device == "cpu"
    args = DPOConfig(
        output_dir=str(work_dir),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=FIXED["gradient_accumulation_steps"],
        num_train_epochs=1,
        max_steps=steps,
        learning_rate=settings.learning_rate,
        beta=settings.beta,
        loss_type=[FIXED["loss_type"]],
        max_length=settings.max_length,
        truncation_mode=FIXED["truncation_mode"],
        max_grad_norm=FIXED["max_grad_norm"],
        weight_decay=FIXED["weight_decay"],
        disable_dropout=False,
        precompute_ref_log_probs=False,
        use_cpu=cpu,
        bf16=precision.bf16,
        fp16=precision.quantization == "nf4" and not precision.bf16,
        gradient_checkpointing=precision.quantization == "nf4",
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        dataloader_drop_last=False,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=settings.trainer_seed,
        data_seed=settings.trainer_seed,
    )
    peft_config = lora_config(
        rank=settings.rank,
        alpha=settings.alpha,
        dropout=settings.dropout,
        target_modules=list(settings.target_modules),
    )
    peft_config.base_model_name_or_path = str(base_model_path)
    trainer = SequentialDPOTrainer(
        model=load_base_model(base_model_path, precision),
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    model = trainer.model
    if list(model.peft_config) != ["default"]:
        # A second ("ref") adapter would make TRL use it, not the base, as the reference.
        raise RuntimeError(f"unexpected adapters on the trained model: {list(model.peft_config)}")
    checkpoints.load_adapter_weights(model, adapter_dir)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [p for _, p in named],
        lr=settings.learning_rate,
        betas=tuple(FIXED["adam_betas"]),
        eps=FIXED["adam_eps"],
        weight_decay=FIXED["weight_decay"],
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, total_steps)
    # Set before train(): the Trainer only creates its own optimizer and schedule when unset.
    trainer.optimizer, trainer.lr_scheduler = optimizer, scheduler
    return Session(trainer, model, optimizer, scheduler, [name for name, _ in named])


class StepRecorder:
    """Collects the per-step metrics TRL logs, hands them to ``on_step``, and saves a checkpoint
    at step 0 and every ``checkpoint_every`` steps after, and at the last step.

    A checkpoint for step ``s`` is saved when step ``s + 1`` begins (after its batch is fetched,
    before its forward pass), so its RNG state is the one that step will use; the last one at
    the end of the run."""

    def __init__(
        self,
        *,
        settings: TrainSettings,
        checkpoint_root: Path,
        total_steps: int,
        on_step: Callable[[int, dict[str, float]], Any] | None,
    ):
        self.settings = settings
        self.checkpoint_root = checkpoint_root
        self.total_steps = total_steps
        self.on_step = on_step
        self.param_names: list[str] = []
        self.metrics: list[dict[str, float]] = []
        self.summary: dict[str, float] = {}
        self.checkpoints: list[dict[str, Any]] = []

    def callback(self):
        from transformers import TrainerCallback

        recorder = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                recorder.maybe_checkpoint(state.global_step, **kwargs)

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == recorder.total_steps:
                    recorder.maybe_checkpoint(state.global_step, final=True, **kwargs)

            def on_log(self, args, state, control, logs=None, **kwargs):
                recorder.record(state.global_step, logs or {})

        return Callback()

    def maybe_checkpoint(self, step: int, *, final: bool = False, **kwargs) -> None:
        every = self.settings.checkpoint_every
        if not every or (step % every and not final):
            return
        if self.checkpoints and self.checkpoints[-1]["step"] == step:
            return
        path = self.checkpoint_root / checkpoints.checkpoint_dir_name(step)
        sha256 = checkpoints.save_checkpoint(
            path,
            model=kwargs["model"],
            optimizer=kwargs["optimizer"],
            scheduler=kwargs["lr_scheduler"],
            param_names=self.param_names,
            step=step,
            total_steps=self.total_steps,
            batch_size=self.settings.batch_size,
        )
        self.checkpoints.append({"step": step, "sha256": sha256, "path": path})

    def record(self, step: int, logs: dict[str, Any]) -> None:
        numbers = {
            key: float(value)
            for key, value in logs.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        if "train_runtime" in logs:  # the trainer's end-of-run summary, not a step
            if "train_loss" in numbers:
                self.summary["train_loss"] = numbers["train_loss"]
            return
        metrics = {k: v for k, v in numbers.items() if not any(t in k for t in _TIMING_KEYS)}
        self.metrics.append({"step": step, **metrics})
        if self.on_step is not None:
            # An exception here (e.g. the job was cancelled) stops training and propagates.
            self.on_step(step, dict(metrics))


class RngRestorer:
    """For a replay: put the checkpoint's RNG states back as its first step begins (the moment
    the original run saved them), after the trainer's own seeding."""

    def __init__(self, checkpoint_dir: Path):
        self.checkpoint_dir = checkpoint_dir
        self.done = False

    def callback(self):
        from transformers import TrainerCallback

        restorer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if not restorer.done:
                    checkpoints.restore_rng(restorer.checkpoint_dir)
                    restorer.done = True

        return Callback()
