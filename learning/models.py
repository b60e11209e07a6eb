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
