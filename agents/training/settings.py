"""What a DPO run is told: the agent's QLoRA settings plus the run's own (seed, caps, checkpoints).

The ranges are the agent's (``agents.models.RANGES``): the trainer refuses exactly what the agent
form refuses, so a setting the web app shows is one the trainer honours. Everything the trainer
fixes by itself (optimizer, schedule, loss) is in ``FIXED`` and goes into every result, so a proof
record commits to it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from agents.models import ALLOWED_TARGET_MODULES, RANGES
from agents.training.errors import TrainingError

# Seeds are stored in BigInteger columns (services draw 62 bits); numpy's global seed takes 32
# bits, so the trainer's own seed is the low 32 bits (recorded as ``trainer_seed``).
SEED_LIMIT = 2**63
MAX_LENGTH_RANGE = (16, 32768)
MAX_STEPS_LIMIT = 1_000_000

# The trainer's fixed choices (not per-agent settings), recorded in every result.
FIXED: dict[str, Any] = {
    "loss_type": "sigmoid",
    "reference": "base model with the adapter disabled",
    "optimizer": "torch.optim.AdamW",
    "adam_betas": [0.9, 0.999],
    "adam_eps": 1e-8,
    "weight_decay": 0.0,
    "lr_scheduler": "linear decay to 0 over the run, no warmup",
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,
    "truncation_mode": "keep_start",
    "prompt_format": "the base model's chat template: [system], user prompt, assistant answer",
    "data_order": "per epoch, pair indices sorted by sha256('arena-dpo-order:{seed}:{epoch}:{i}')",
}

# TrainSettings field -> the agent's RANGES key
_RANGE_OF = {
    "rank": "lora_rank",
    "alpha": "lora_alpha",
    "dropout": "lora_dropout",
    "learning_rate": "learning_rate",
    "beta": "dpo_beta",
    "epochs": "epochs",
    "batch_size": "batch_size",
}
_INTEGER_FIELDS = ("rank", "alpha", "epochs", "batch_size")


@dataclass(frozen=True)
class TrainSettings:
    seed: int
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    load_in_4bit: bool = True
    learning_rate: float = 5e-5
    beta: float = 0.1
    epochs: int = 1
    batch_size: int = 4
    max_steps: int | None = None  # a cap on optimizer steps; None = every epoch in full
    max_length: int = 1024  # tokens of prompt + answer; longer answers are cut at the end
    checkpoint_every: int = 0  # save a checkpoint every k optimizer steps; 0 = none

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        problems = _problems(self)
        if problems:
            raise TrainingError("invalid training settings: " + "; ".join(problems))

    @classmethod
    def from_agent(cls, agent: Any, *, seed: int, **overrides: Any) -> TrainSettings:
        """The settings an agent's QLoRA fields say (any object with the Agent's attribute
        names will do), with the run's seed and any overrides (max_steps, max_length,
        checkpoint_every, or an agent field replaced for this run)."""
        values = {
            "seed": seed,
            "rank": agent.lora_rank,
            "alpha": agent.lora_alpha,
            "dropout": agent.lora_dropout,
            "target_modules": tuple(agent.target_modules or ()),
            "load_in_4bit": agent.load_in_4bit,
            "learning_rate": agent.learning_rate,
            "beta": agent.dpo_beta,
            "epochs": agent.epochs,
            "batch_size": agent.batch_size,
        }
        unknown = set(overrides) - set(cls.__dataclass_fields__)
        if unknown:
            raise TrainingError(f"unknown training settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)

    def with_changes(self, **changes: Any) -> TrainSettings:
        return replace(self, **changes)

    @property
    def trainer_seed(self) -> int:
        return self.seed % 2**32

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _problems(s: TrainSettings) -> list[str]:
    problems = []
    for name, key in _RANGE_OF.items():
        value = getattr(s, name)
        low, high, inclusive = RANGES[key]
        if name in _INTEGER_FIELDS and not _is_int(value):
            problems.append(f"{name} must be an integer")
            continue
        if not _is_number(value) or value != value:  # NaN compares unequal to itself
            problems.append(f"{name} must be a number")
            continue
        below = value < low if inclusive else value <= low
        if below or value > high:
            bracket = "[" if inclusive else "("
            problems.append(f"{name} must be in {bracket}{low}, {high}], not {value}")
    modules = s.target_modules
    if not isinstance(modules, tuple) or not modules:
        problems.append("target_modules must be a non-empty list of module names")
    else:
        bad = [m for m in modules if m not in ALLOWED_TARGET_MODULES]
        if bad:
            problems.append(
                f"unknown target modules {bad}; allowed: {', '.join(ALLOWED_TARGET_MODULES)}"
            )
        elif len(set(modules)) != len(modules):
            problems.append("target_modules lists a module twice")
    if not isinstance(s.load_in_4bit, bool):
        problems.append("load_in_4bit must be true or false")
    if not _is_int(s.seed) or not 0 <= s.seed < SEED_LIMIT:
        problems.append(f"seed must be an integer in [0, 2^63), not {s.seed!r}")
    if s.max_steps is not None and (
        not _is_int(s.max_steps) or not 1 <= s.max_steps <= MAX_STEPS_LIMIT
    ):
        problems.append(f"max_steps must be empty or an integer in [1, {MAX_STEPS_LIMIT}]")
    low, high = MAX_LENGTH_RANGE
    if not _is_int(s.max_length) or not low <= s.max_length <= high:
        problems.append(f"max_length must be an integer in [{low}, {high}]")
    if not _is_int(s.checkpoint_every) or not 0 <= s.checkpoint_every <= MAX_STEPS_LIMIT:
        problems.append(f"checkpoint_every must be an integer in [0, {MAX_STEPS_LIMIT}] (0 = none)")
    return problems
