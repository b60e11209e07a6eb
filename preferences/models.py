"""Preference pairs (a better and a worse answer to one prompt, from one settled match) with their
provenance, and each space's gates that decide which pairs are kept for training.

A pair copies what it is made of (the prompt, both answers, both agents' adapter sha256 and
generation settings) instead of only pointing at it, so an export reads one table and the pair's
content hash can be checked against what it stores (``verify``) long after the agents changed.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from preferences.provenance import content_sha256


class PairGate(models.Model):
    """Which pairs of a space are kept. Created on demand with the defaults
    (``preferences.services.gate_for``); changing it re-gates the space's pairs
    (``gate_update``)."""

    space = models.OneToOneField("spaces.Space", on_delete=models.CASCADE, related_name="pair_gate")
    min_margin = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="a pair is kept only when its margin is above this (exclusive: at 0, every "
        "pair whose answers the panel told apart)",
    )
    min_agreement = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="the least share of judges (and of a pairwise judge's orders) that must prefer "
        "the chosen answer (inclusive)",
    )
    drop_duplicates = models.BooleanField(
        default=True,
        help_text="hold back a pair whose prompt, chosen and rejected answers repeat a kept pair",
    )
    uninformative_judge_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text='judge kinds found uninformative in this space (e.g. ["pairwise-llm"], filled '
        "by a judge report): a pair that only such judges decided is held back",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_margin__gte=0) & Q(min_margin__lte=1), name="pairgate_margin_range"
            ),
            models.CheckConstraint(
                condition=Q(min_agreement__gte=0) & Q(min_agreement__lte=1),
                name="pairgate_agreement_range",
            ),
        ]

    def __str__(self) -> str:
        return f"pair gate of {self.space_id}"


class PreferencePair(models.Model):
    class Status(models.TextChoices):
        KEPT = "kept"
        HELD_BACK = "held_back", "held back"

    match = models.ForeignKey(
        "arena.Match", on_delete=models.CASCADE, related_name="preference_pairs"
    )
    space = models.ForeignKey(
        "spaces.Space", on_delete=models.CASCADE, related_name="preference_pairs"
    )
    prompt = models.ForeignKey(
        "spaces.Prompt", on_delete=models.PROTECT, related_name="preference_pairs"
    )
    prompt_text = models.TextField()
    prompt_sha256 = models.CharField(max_length=64)
    chosen_seat = models.ForeignKey("arena.Seat", on_delete=models.CASCADE, related_name="+")
    rejected_seat = models.ForeignKey("arena.Seat", on_delete=models.CASCADE, related_name="+")
    chosen_text = models.TextField()
    rejected_text = models.TextField()
    # sha256 of each answer's text: the duplicate gate compares these, not whole texts.
    chosen_text_sha256 = models.CharField(max_length=64)
    rejected_text_sha256 = models.CharField(max_length=64)
    chosen_agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="+")
    rejected_agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="+")
    chosen_adapter_sha256 = models.CharField(max_length=64, blank=True, default="")
    rejected_adapter_sha256 = models.CharField(max_length=64, blank=True, default="")
    chosen_generation_settings = models.JSONField(default=dict)
    rejected_generation_settings = models.JSONField(default=dict)
    # The agents' system prompts when the pair was made (the seat does not keep them); exports
    # leave them out unless asked (trl-chat --include-system-prompt).
    chosen_system_prompt = models.TextField(blank=True, default="")
    rejected_system_prompt = models.TextField(blank=True, default="")
    verdict_ids = models.JSONField(default=list, help_text="the match's verdicts, by id")
    margin = models.FloatField(
        help_text="chosen's weighted normalised panel total minus rejected's, over the total "
        "weight: in (0, 1]"
    )
    agreement_count = models.PositiveIntegerField(
        help_text="votes (a judge, or one order of a pairwise judge) that preferred the chosen"
    )
    agreement_total = models.PositiveIntegerField(help_text="votes cast")
    agreement = models.FloatField(help_text="agreement_count / agreement_total")
    deciding_judge_kinds = models.JSONField(
        default=list, help_text="kinds of the judges that scored the chosen answer higher"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.KEPT)
    held_back_reason = models.CharField(max_length=300, blank=True, default="")
    content_sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["match", "chosen_seat", "rejected_seat"], name="pair_unique_per_match"
            ),
            models.CheckConstraint(
                condition=~Q(chosen_seat=models.F("rejected_seat")), name="pair_two_seats"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["kept", "held_back"]), name="pair_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="kept", held_back_reason="")
                | (Q(status="held_back") & ~Q(held_back_reason="")),
                name="pair_reason_iff_held_back",
            ),
        ]
        indexes = [
            models.Index(fields=["space", "status", "id"]),
            models.Index(
                fields=["space", "prompt_sha256", "chosen_text_sha256", "rejected_text_sha256"],
                name="pair_duplicate_lookup",
            ),
        ]

    def __str__(self) -> str:
        return f"pair #{self.pk} of match #{self.match_id} ({self.status})"

    def payload(self) -> dict:
        """The fields that make the pair, as hashed (``preferences.provenance``)."""

        def side(prefix: str) -> dict:
            return {
                "seat": getattr(self, f"{prefix}_seat_id"),
                "text": getattr(self, f"{prefix}_text"),
                "agent": getattr(self, f"{prefix}_agent_id"),
                "adapter_sha256": getattr(self, f"{prefix}_adapter_sha256"),
                "generation_settings": getattr(self, f"{prefix}_generation_settings"),
                "system_prompt": getattr(self, f"{prefix}_system_prompt"),
            }

        return {
            "match": self.match_id,
            "prompt": {"text": self.prompt_text, "sha256": self.prompt_sha256},
            "chosen": side("chosen"),
            "rejected": side("rejected"),
            "verdicts": list(self.verdict_ids),
        }

    def compute_content_sha256(self) -> str:
        return content_sha256(self.payload())

    def verify(self) -> bool:
        """Whether the stored content hash is still the hash of what the pair stores."""
        return bool(self.content_sha256) and self.content_sha256 == self.compute_content_sha256()
