"""Per-space training policy."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MAX_PAIRS_PER_JOB = 512


class TrainingPolicy(models.Model):
    """When a space's pairs train its agents. Created with the defaults on first use
    (``learning.services.policy_for``)."""

    space = models.OneToOneField(
        "spaces.Space", on_delete=models.CASCADE, related_name="training_policy"
    )
    train_after_pairs = models.PositiveIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PAIRS_PER_JOB)],
        help_text="K: an agent trains by itself once it has at least this many new kept pairs",
    )
    automatic = models.BooleanField(
        default=True, help_text="train agents by themselves once they have K new pairs"
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "training policies"

    def __str__(self) -> str:
        return f"training policy of {self.space}"


class TrainingProof(models.Model):
    """A training job's proof-of-learning record in the ledger's record chain
    (``learning.proofs``); written in the transaction that stores the job's adapter."""

    job = models.OneToOneField("agents.TrainingJob", on_delete=models.PROTECT, related_name="proof")
    record = models.OneToOneField("ledger.ChainRecord", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"proof of job #{self.job_id} (record {self.record_id})"


class GateRun(models.Model):
    """The promotion gate of one training job: evaluation games of the new adapter version
    (the candidate) against its parent on the space's held-out prompts, judged by the space's
    panel (``learning.gate``). The candidate goes live only when the lower bound of its win
    rate's 95% interval is above 0.5, or when its owner promotes it by hand."""

    class Status(models.TextChoices):
        RUNNING = "running"
        PASSED = "passed"
        REFUSED = "refused"
        ERROR = "error"

    job = models.OneToOneField("agents.TrainingJob", on_delete=models.CASCADE, related_name="gate")
    space = models.ForeignKey("spaces.Space", on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(
        "agents.AdapterVersion", on_delete=models.PROTECT, related_name="+"
    )
    baseline = models.ForeignKey(
        "agents.AdapterVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    games = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    ties = models.PositiveIntegerField(default=0)
    win_rate = models.FloatField(null=True, blank=True, help_text="(wins + ties / 2) / games")
    low = models.FloatField(null=True, blank=True, help_text="95% Wilson interval")
    high = models.FloatField(null=True, blank=True)
    promoted = models.BooleanField(default=False)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"gate of job #{self.job_id} ({self.status})"


class GateGame(models.Model):
    """One evaluation game: both versions answer one held-out prompt; the panel decides."""

    class Outcome(models.IntegerChoices):
        CANDIDATE = 1
        TIE = 0
        BASELINE = -1

    gate = models.ForeignKey(GateRun, on_delete=models.CASCADE, related_name="game_rows")
    prompt = models.ForeignKey("spaces.Prompt", on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField()
    candidate_text = models.TextField()
    baseline_text = models.TextField()
    outcome = models.SmallIntegerField(choices=Outcome.choices)
    verdicts = models.JSONField(default=list, help_text="what each judge said (run_panel)")

    class Meta:
        ordering = ["gate_id", "id"]

    def __str__(self) -> str:
        return f"game {self.pk} of gate {self.gate_id}: {self.get_outcome_display()}"
