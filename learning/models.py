"""Per-space training policy."""

from __future__ import annotations

from django.conf import settings
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


class PracticeRun(models.Model):
    """Head-to-head games for no prize (``learning.practice``): side A (a draft configuration of
    the agent, the agent itself, a revision of it, or a fork) against side B (the agent's live
    configuration, another agent of the owner, another revision, or the fork's parent) on K of
    the space's training prompts, judged by the space's panel. It never pays prizes, never moves
    a rating and never makes a preference pair; it costs the operator's practice fee."""

    class Kind(models.TextChoices):
        DRAFT = "draft", "draft against a baseline"
        AGENTS = "agents", "agent against agent"
        REVISIONS = "revisions", "revision against revision"
        FORK = "fork", "fork against its parent"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        ERROR = "error"

    FINAL = (Status.DONE, Status.ERROR)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_runs"
    )
    agent = models.ForeignKey(
        "agents.Agent",
        on_delete=models.CASCADE,
        related_name="practice_runs",
        help_text="side A's agent: the one a draft would be applied to",
    )
    space = models.ForeignKey("spaces.Space", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Each side: an agent, the revision it played (None for a draft or a live configuration
    # recorded nowhere yet), the configuration that played (REVISION_FIELDS) and the adapter.
    a_agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    a_revision = models.ForeignKey(
        "agents.AgentRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    a_config = models.JSONField()
    a_adapter = models.ForeignKey(
        "agents.AdapterVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    a_live = models.BooleanField(default=True, help_text="side A is its agent's live configuration")
    b_agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    b_revision = models.ForeignKey(
        "agents.AgentRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    b_config = models.JSONField()
    b_adapter = models.ForeignKey(
        "agents.AdapterVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    b_live = models.BooleanField(default=True, help_text="side B is its agent's live configuration")
    # The agent's live configuration when the run was asked for: a draft is applied only while
    # it is still the same (else the player compared against something that is gone).
    base_config = models.JSONField()
    k = models.PositiveSmallIntegerField(help_text="how many training prompts")
    seed = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    detail = models.TextField(blank=True)
    fee = models.PositiveBigIntegerField(default=0, help_text="credits paid for the run")
    games = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0, help_text="side A's")
    losses = models.PositiveIntegerField(default=0)
    ties = models.PositiveIntegerField(default=0)
    win_rate = models.FloatField(null=True, blank=True, help_text="(wins + ties / 2) / games")
    low = models.FloatField(null=True, blank=True, help_text="95% Wilson interval")
    high = models.FloatField(null=True, blank=True)
    applied_revision = models.ForeignKey(
        "agents.AgentRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "created_at"], name="learning_practice_quota")]

    def __str__(self) -> str:
        return f"practice run #{self.pk} ({self.get_kind_display()}, {self.status})"


class PracticeGame(models.Model):
    """One practice game: both sides answer one training prompt with the same seed."""

    class Outcome(models.IntegerChoices):
        A = 1
        TIE = 0
        B = -1

    run = models.ForeignKey(PracticeRun, on_delete=models.CASCADE, related_name="game_rows")
    prompt = models.ForeignKey("spaces.Prompt", on_delete=models.PROTECT, related_name="+")
    seed = models.BigIntegerField()
    a_text = models.TextField()
    b_text = models.TextField()
    outcome = models.SmallIntegerField(choices=Outcome.choices)
    verdicts = models.JSONField(default=list, help_text="what each judge said (run_panel)")

    class Meta:
        ordering = ["run_id", "id"]

    def __str__(self) -> str:
        return f"game {self.pk} of practice run {self.run_id}: {self.get_outcome_display()}"
