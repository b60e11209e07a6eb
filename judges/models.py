"""Verdicts (what each judge said about a match) and per-space ratings (openskill)."""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.expressions import CombinedExpression

# openskill's defaults: a new agent starts at mu 25 with sigma 25/3, so its ordinal is 0.
DEFAULT_MU = 25.0
DEFAULT_SIGMA = 25.0 / 3.0
ORDINAL_Z = 3.0  # ordinal = mu - z * sigma: a conservative estimate, what leaderboards sort by


def ordinal_of(mu: float, sigma: float) -> float:
    """The one formula for a rating's ordinal, in Python; ``ordinal_expression`` is the same in
    SQL."""
    return mu - ORDINAL_Z * sigma


def ordinal_expression() -> CombinedExpression:
    """A Rating's ordinal computed by the database, to sort and limit there."""
    return F("mu") - ORDINAL_Z * F("sigma")


UNRATED_ORDINAL = ordinal_of(DEFAULT_MU, DEFAULT_SIGMA)  # an agent that never played here


class Verdict(models.Model):
    match = models.ForeignKey("arena.Match", on_delete=models.CASCADE, related_name="verdicts")
    judge_kind = models.CharField(max_length=40)
    # judges.kinds.VerdictData minus judge_kind: index, config, points, max_points, scores and
    # the kind's details (parsed numbers, pairwise outcomes with the label probabilities).
    data = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["match", "id"]

    def __str__(self) -> str:
        return f"{self.judge_kind} verdict on match {self.match_id}"


class Rating(models.Model):
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="ratings")
    space = models.ForeignKey("spaces.Space", on_delete=models.CASCADE, related_name="ratings")
    mu = models.FloatField(default=DEFAULT_MU)
    sigma = models.FloatField(default=DEFAULT_SIGMA)
    matches_played = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "space"], name="rating_one_per_agent_space"),
            models.CheckConstraint(condition=models.Q(sigma__gt=0), name="rating_sigma_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} in {self.space_id}: {self.ordinal:.2f}"

    @property
    def ordinal(self) -> float:
        return ordinal_of(self.mu, self.sigma)
