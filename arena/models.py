"""Entries, matches and seats: the orchestration's own tables.

Money never lives here: fees sit in ledger escrow accounts (``entry:<id>`` while queued,
``match:<id>`` once matched) and these rows only record what the ledger was asked to do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Entry(models.Model):
    """An agent waiting for (or placed in) a match of one space at one fee tier."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        MATCHED = "matched"
        LEFT = "left"
        REFUNDED = "refunded"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="arena_entries"
    )
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="entries")
    space = models.ForeignKey("spaces.Space", on_delete=models.PROTECT, related_name="entries")
    fee_tier = models.ForeignKey("spaces.FeeTier", on_delete=models.PROTECT, related_name="entries")
    fee = models.PositiveBigIntegerField(help_text="credits held in escrow for this entry")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # The client's idempotency key: the same owner sending the same key gets the same entry.
    key = models.CharField(max_length=120)
    automatic = models.BooleanField(
        default=False, help_text="entered by the agent's automation, counted against its limits"
    )
    match = models.ForeignKey(
        "arena.Match", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "entries"
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="entry_unique_owner_key"),
            # An agent waits at most once per space: a second queued entry could put it in
            # two seats of one match.
            models.UniqueConstraint(
                fields=["agent", "space"],
                condition=Q(status="queued"),
                name="entry_one_queued_per_agent_space",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "matched", "left", "refunded"]),
                name="entry_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(match__isnull=True) | ~Q(status="queued"),
                name="entry_queued_has_no_match",
            ),
        ]
        indexes = [models.Index(fields=["space", "fee_tier", "status", "created"])]

    def __str__(self) -> str:
        return f"entry #{self.pk} {self.agent_id} in {self.space_id} ({self.status})"

    @property
    def escrow_ref(self) -> str:
        """Where the fee waits while the entry is queued; moved to the match's escrow on match."""
        return f"entry:{self.pk}"


class Match(models.Model):
    class Status(models.TextChoices):
        FORMED = "formed"
        ROLLING_OUT = "rolling_out"
        JUDGING = "judging"
        SETTLING = "settling"
        SETTLED = "settled"
        CANCELLED = "cancelled"
        FAILED = "failed"

    FINAL = ("settled", "cancelled", "failed")

    space = models.ForeignKey("spaces.Space", on_delete=models.PROTECT, related_name="matches")
    fee_tier = models.ForeignKey("spaces.FeeTier", on_delete=models.PROTECT, related_name="matches")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FORMED)
    prompt = models.ForeignKey("spaces.Prompt", on_delete=models.PROTECT, related_name="matches")
    seed = models.BigIntegerField(help_text="drives the prompt pick and every seat's sampling")
    # Money, all in credits, filled at settlement: fees + subsidy = pot = rakes + payouts.
    fees = models.PositiveBigIntegerField(default=0)
    subsidy = models.PositiveBigIntegerField(default=0)
    pot = models.PositiveBigIntegerField(default=0)
    creator_rake = models.PositiveBigIntegerField(default=0)
    platform_rake = models.PositiveBigIntegerField(default=0)
    terms = models.JSONField(
        default=dict,
        blank=True,
        help_text="the space's payout shares, rakes and subsidy when the match formed; "
        "the match settles on these",
    )
    failure_reason = models.TextField(blank=True, default="")
    # Step claiming: a worker owns the running step while ``lease_until`` is set; ``claim``
    # grows by one on every claim, and a step's result is stored only if the claim is still the
    # one it started with, so a worker that was presumed dead cannot write over a redo.
    claim = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="claims of the current step")
    created = models.DateTimeField(auto_now_add=True)
    rolling_out_at = models.DateTimeField(null=True, blank=True)
    judging_at = models.DateTimeField(null=True, blank=True)
    settling_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "matches"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "formed",
                        "rolling_out",
                        "judging",
                        "settling",
                        "settled",
                        "cancelled",
                        "failed",
                    ]
                ),
                name="match_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(pot=models.F("fees") + models.F("subsidy")), name="match_pot_sum"
            ),
        ]
        indexes = [models.Index(fields=["status", "updated"])]

    def __str__(self) -> str:
        return f"match #{self.pk} ({self.status})"

    @property
    def escrow_ref(self) -> str:
        return f"match:{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    def timings(self) -> dict[str, float | None]:
        """Seconds spent in each step (None for a step not reached)."""

        def span(start, end):
            return round((end - start).total_seconds(), 3) if start and end else None

        return {
            "formed": span(self.created, self.rolling_out_at),
            "rollout": span(self.rolling_out_at, self.judging_at),
            "judging": span(self.judging_at, self.settling_at),
            "settling": span(self.settling_at, self.finished_at),
            "total": span(self.created, self.finished_at),
        }


class Seat(models.Model):
    """One agent's place in a match: its rollout (the answer and how it was made), its rank and
    its payout."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="seats")
    index = models.PositiveSmallIntegerField()
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="seat")
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="seats")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="arena_seats"
    )
    # The rollout, filled by the rollout step.
    text = models.TextField(blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True, default="")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    adapter_version = models.ForeignKey(
        "agents.AdapterVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="seats",
    )
    adapter_sha256 = models.CharField(max_length=64, blank=True, default="")
    revision = models.ForeignKey(
        "agents.AgentRevision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="seats",
        help_text="the agent's configuration revision this answer was generated with",
    )
    generation_settings = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    rolled_out_at = models.DateTimeField(null=True, blank=True)
    violation = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Why the answer breaks the space's content limits (it then ranks last).",
    )
    injection = models.JSONField(
        default=list,
        blank=True,
        help_text="What in the answer addresses the judge (judges.injection findings); the "
        "space's injection_policy says what it costs.",
    )
    # Judging and settlement.
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_before = models.JSONField(
        null=True,
        blank=True,
        help_text="the agent's rating {mu, sigma} in the space before this match settled",
    )
    rating_after = models.JSONField(
        null=True,
        blank=True,
        help_text="the agent's rating {mu, sigma} in the space after this match settled",
    )
    payout = models.PositiveBigIntegerField(default=0)
    # Verifiable rollouts (arena.services.rollout_audit): what the rollout answered and, from a
    # backend that can say (local), the sampled tokens with their raw log-probabilities under
    # the seat's adapter and a commitment to both; an audit recomputes a sample of them.
    messages = models.JSONField(
        default=list, blank=True, help_text="the chat the rollout answered, as sent to inference"
    )
    token_ids = models.JSONField(null=True, blank=True)
    token_logprobs = models.JSONField(null=True, blank=True)
    logprobs_sha256 = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="sha256 of the canonical JSON {token_ids, logprobs} (agents.rollout_audit)",
    )

    class AuditStatus(models.TextChoices):
        UNAUDITED = "unaudited"  # not yet considered by the audit sampler
        SKIPPED = "skipped", "not drawn"  # considered, not drawn at the operator's rate
        PASSED = "passed"
        FLAGGED = "flagged"  # its pairs are held back, its match shows for review
        NOT_AUDITABLE = "not_auditable", "not auditable"  # no tokens recorded (not local)

    audit_status = models.CharField(
        max_length=16, choices=AuditStatus.choices, default=AuditStatus.UNAUDITED
    )
    audit_detail = models.TextField(blank=True, default="")
    audit = models.JSONField(
        default=dict, blank=True, help_text="positions checked, largest difference, tolerance"
    )
    audited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["match", "index"]
        constraints = [
            models.UniqueConstraint(fields=["match", "index"], name="seat_unique_index"),
            models.UniqueConstraint(fields=["match", "agent"], name="seat_unique_agent"),
            # The rule "never two agents of one owner in a match", held by the database.
            models.UniqueConstraint(fields=["match", "owner"], name="seat_unique_owner"),
            models.CheckConstraint(
                condition=Q(
                    audit_status__in=[
                        "unaudited",
                        "skipped",
                        "passed",
                        "flagged",
                        "not_auditable",
                    ]
                ),
                name="seat_audit_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["audit_status"])]

    def __str__(self) -> str:
        return f"seat {self.index} of match #{self.match_id}"
