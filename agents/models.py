"""Agents, the base-model registry and adapter versions.

Ranges live in one table (``RANGES``: the generation ranges of the inference layer plus the
training ranges) that feeds both the field validators (for clear form and API errors) and the
database CheckConstraints (so no code path, admin or shell, can store a value the inference and
training code would choke on).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from agents.inference.base import GENERATION_RANGES, AdapterRef, GenerationSettings

# field -> (min, max, min_inclusive). Open ends where 0 makes no sense.
RANGES: dict[str, tuple[float, float, bool]] = {
    **GENERATION_RANGES,
    "lora_rank": (1, 256, True),
    "lora_alpha": (1, 1024, True),
    "lora_dropout": (0.0, 0.5, True),
    "learning_rate": (0.0, 0.01, False),  # (0, 1e-2]
    "dpo_beta": (0.0, 10.0, False),  # (0, 10]
    "epochs": (1, 20, True),
    "batch_size": (1, 64, True),
}

# Module names LoRA may target: the projection layers of llama-style models (SmolLM2, Llama,
# Mistral, Qwen). Anything else is refused rather than silently matching nothing.
ALLOWED_TARGET_MODULES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
DEFAULT_TARGET_MODULES = ["q_proj", "v_proj"]


def _validators(field: str) -> list:
    low, high, inclusive = RANGES[field]
    validators = [MaxValueValidator(high)]
    if inclusive:
        validators.append(MinValueValidator(low))
    else:
        validators.append(_GreaterThan(low))
    return validators


class _GreaterThan(MinValueValidator):
    message = "Ensure this value is greater than %(limit_value)s."
    code = "min_value_exclusive"

    def compare(self, a, b):
        return a <= b


def _range_constraint(field: str) -> models.CheckConstraint:
    low, high, inclusive = RANGES[field]
    lower = Q(**{f"{field}__gte": low}) if inclusive else Q(**{f"{field}__gt": low})
    return models.CheckConstraint(
        condition=lower & Q(**{f"{field}__lte": high}), name=f"agents_agent_{field}_range"
    )


def validate_target_modules(value) -> None:
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or not value:
        raise ValidationError("target_modules must be a non-empty list of module names.")
    bad = [m for m in value if m not in ALLOWED_TARGET_MODULES]
    if bad:
        raise ValidationError(
            f"unknown target modules {bad}; allowed: {', '.join(ALLOWED_TARGET_MODULES)}"
        )
    if len(set(value)) != len(value):
        raise ValidationError("target_modules lists a module twice.")


class BaseModel(models.Model):
    """A base model in the registry: a local Hugging Face directory (config.json + tokenizer)."""

    name = models.CharField(max_length=100, unique=True)
    path = models.CharField(max_length=500, help_text="Local Hugging Face model directory.")
    is_default = models.BooleanField(default=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="agents_one_default_base"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agents"
    )
    name = models.CharField(max_length=80)
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="agents")
    system_prompt = models.TextField(blank=True, max_length=4000)

    # QLoRA training settings
    lora_rank = models.PositiveIntegerField(default=8, validators=_validators("lora_rank"))
    lora_alpha = models.PositiveIntegerField(default=16, validators=_validators("lora_alpha"))
    lora_dropout = models.FloatField(default=0.05, validators=_validators("lora_dropout"))
    target_modules = models.JSONField(
        default=list,
        validators=[validate_target_modules],
        help_text=f"LoRA target modules, from {', '.join(ALLOWED_TARGET_MODULES)}.",
    )
    load_in_4bit = models.BooleanField(default=True)
    learning_rate = models.FloatField(default=5e-5, validators=_validators("learning_rate"))
    dpo_beta = models.FloatField(default=0.1, validators=_validators("dpo_beta"))
    epochs = models.PositiveIntegerField(default=1, validators=_validators("epochs"))
    batch_size = models.PositiveIntegerField(default=4, validators=_validators("batch_size"))

    # generation settings
    temperature = models.FloatField(default=0.7, validators=_validators("temperature"))
    top_p = models.FloatField(default=0.95, validators=_validators("top_p"))
    top_k = models.PositiveIntegerField(default=50, validators=_validators("top_k"))
    max_new_tokens = models.PositiveIntegerField(
        default=128, validators=_validators("max_new_tokens")
    )
    repetition_penalty = models.FloatField(
        default=1.1, validators=_validators("repetition_penalty")
    )

    current_adapter = models.ForeignKey(
        "AdapterVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # automation: enter a space by itself, within limits
    auto_enter_space = models.ForeignKey(
        "spaces.Space", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_fee_tier = models.ForeignKey(
        "spaces.FeeTier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_max_matches = models.PositiveIntegerField(default=0)
    auto_budget = models.PositiveBigIntegerField(
        default=0, help_text="Credits automation may spend."
    )
    auto_matches_entered = models.PositiveIntegerField(default=0)

    forked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    # The agent's page is public (its record); its prompt is the owner's work, shown to others
    # only when the owner says so.
    share_prompt = models.BooleanField(
        default=False,
        help_text="Show the system prompt (also of past revisions) on the agent's public page.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="agents_agent_owner_name_unique"
            ),
            *[_range_constraint(field) for field in RANGES],
            models.CheckConstraint(
                condition=Q(auto_matches_entered__gte=0) & Q(auto_max_matches__gte=0),
                name="agents_agent_auto_counts",
            ),
            # A fee tier without its space is meaningless for automation.
            models.CheckConstraint(
                condition=Q(auto_fee_tier__isnull=True) | Q(auto_enter_space__isnull=False),
                name="agents_agent_auto_tier_needs_space",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.auto_fee_tier_id is not None:
            if self.auto_enter_space_id is None:
                raise ValidationError({"auto_enter_space": "pick the space of the fee tier"})
            if self.auto_fee_tier.space_id != self.auto_enter_space_id:
                raise ValidationError({"auto_fee_tier": "this fee tier belongs to another space"})

    def generation_settings(self) -> GenerationSettings:
        return GenerationSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_new_tokens=self.max_new_tokens,
            repetition_penalty=self.repetition_penalty,
        )

    def adapter_ref(self) -> AdapterRef | None:
        """The current adapter as inference sees it, or None (base model only)."""
        return self.current_adapter.ref() if self.current_adapter_id else None

    def prompt_visible_to(self, user) -> bool:
        """Whether ``user`` (maybe anonymous) may read the system prompt of this agent."""
        if self.share_prompt:
            return True
        return bool(user and user.is_authenticated and (user.pk == self.owner_id or user.is_staff))


# What a configuration revision records: the prompt, the generation settings and the training
# settings (automation and the adapter weights are not part of it: the weights have their own
# versions, and automation says when an agent plays, not how).
REVISION_FIELDS = (
    "system_prompt",
    "temperature",
    "top_p",
    "top_k",
    "max_new_tokens",
    "repetition_penalty",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "load_in_4bit",
    "learning_rate",
    "dpo_beta",
    "epochs",
    "batch_size",
)


class AgentRevision(models.Model):
    """One configuration an agent has had (``REVISION_FIELDS``), numbered 1, 2, ... per agent.
    Kept for ever, so a player can diff revisions and see which one played each match
    (``arena.Seat.revision``). ``agents.revisions`` makes them."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    config = models.JSONField(help_text="the REVISION_FIELDS values of this revision")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agent_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="agents_revision_number"),
        ]

    def __str__(self) -> str:
        return f"{self.agent.name} r{self.number}"


class AdapterVersion(models.Model):
    """One LoRA adapter of an agent: a peft directory (adapter_model.safetensors +
    adapter_config.json) in MEDIA_ROOT storage. ``file`` names the weights file; ``sha256`` is
    the hash of its bytes and the identity used everywhere else (inference cache, proofs)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="adapter_versions")
    number = models.PositiveIntegerField()
    file = models.FileField(max_length=300)
    sha256 = models.CharField(max_length=64)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    seed = models.BigIntegerField(null=True, blank=True, help_text="Init seed (version 0).")
    created_by = models.CharField(max_length=100, help_text='"init", "fork:<id>", "dpo:<job>"')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agent_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="agents_adapter_agent_number"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="agents_adapter_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent.name} v{self.number} ({self.sha256[:12]})"

    @property
    def directory(self) -> Path:
        return Path(default_storage.path(self.file.name)).parent

    def ref(self) -> AdapterRef:
        return AdapterRef(path=str(self.directory), sha256=self.sha256)


class TrainingJob(models.Model):
    """One DPO run of an agent's adapter on preference pairs (``agents.training_jobs``).

    The examples it trains on are copied in (``TrainingExample``), so the job stays checkable
    whatever happens to the pairs later; ``pair_id`` names where each came from. What the run
    reports (steps, per-step metrics, the data order, checkpoint hashes, library versions) is
    kept here as it runs; the proof-of-learning record commits to it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="training_jobs")
    space = models.ForeignKey(
        "spaces.Space", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey(
        AdapterVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result = models.ForeignKey(
        AdapterVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=20, help_text='"schedule" or "owner"')
    settings = models.JSONField(help_text="The TrainSettings the run is told, seed included.")
    system_prompt = models.TextField(blank=True, help_text="The agent's, as every example sees it.")
    price = models.PositiveBigIntegerField(default=0, help_text="Credits held from the owner.")
    pair_count = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=list, blank=True, help_text="Per step: loss, margins...")
    final_metrics = models.JSONField(default=dict, blank=True)
    data_order = models.JSONField(default=list, blank=True)
    checkpoints = models.JSONField(default=list, blank=True, help_text="{step, sha256, path}")
    hyperparameters = models.JSONField(default=dict, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    quantization = models.CharField(max_length=10, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One run at a time per agent: two would both start from the same parent.
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(status__in=["queued", "running"]),
                name="agents_trainingjob_one_active_per_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} of {self.agent.name} ({self.status})"


class TrainingExample(models.Model):
    """One preference pair as a job saw it, at ``position`` in the job's pair list."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="examples")
    position = models.PositiveIntegerField()
    pair_id = models.BigIntegerField(help_text="The preferences.PreferencePair it came from.")
    content_sha256 = models.CharField(max_length=64)
    prompt = models.TextField()
    chosen = models.TextField()
    rejected = models.TextField()

    class Meta:
        ordering = ["job_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="agents_example_position"),
            models.UniqueConstraint(fields=["job", "pair_id"], name="agents_example_pair_once"),
        ]

    def __str__(self) -> str:
        return f"job #{self.job_id} example {self.position} (pair #{self.pair_id})"
