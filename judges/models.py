"""Verdicts (what each judge said about a match), per-space ratings (openskill) and standings
(a Plackett-Luce fit with bootstrap intervals, ``judges.bradley_terry``)."""

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


class StandingsFit(models.Model):
    """The latest standings fit of a space (``judges.bradley_terry``): what it was fitted on and
    its length coefficient. Its ``Standing`` rows are replaced with it, in one transaction."""

    space = models.OneToOneField(
        "spaces.Space", on_delete=models.CASCADE, related_name="standings_fit"
    )
    fitted_at = models.DateTimeField()
    source_matches = models.PositiveIntegerField(
        help_text="settled matches read for the fit; a space with more has new ones to fit"
    )
    matches = models.PositiveIntegerField(help_text="matches in the fit (two ranked seats or more)")
    rounds = models.PositiveIntegerField(help_text="bootstrap resamples behind the intervals")
    seed = models.BigIntegerField(default=0)
    length_coef = models.FloatField(
        help_text="log-odds per standard deviation of the within-match log-length difference"
    )
    length_lower = models.FloatField()
    length_upper = models.FloatField()
    length_scale = models.FloatField(help_text="that standard deviation, in log(1 + chars)")
    converged = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"standings of {self.space_id}: {self.matches} matches, {self.fitted_at:%Y-%m-%d}"


class Standing(models.Model):
    """One agent's place in its space's latest standings fit: strength (log-worth, Plackett-Luce
    net of answer length), its 95% bootstrap interval, and the rank by interval."""

    space = models.ForeignKey("spaces.Space", on_delete=models.CASCADE, related_name="standings")
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="standings")
    strength = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    rank = models.PositiveIntegerField(
        help_text="1 + the agents whose lower bound is above this one's upper bound"
    )
    matches = models.PositiveIntegerField()
    win_rate = models.FloatField(help_text="pairwise wins (a tie is half) / comparisons")
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["space", "rank", "-strength", "agent"]
        constraints = [
            models.UniqueConstraint(fields=["space", "agent"], name="standing_one_per_agent_space"),
            models.CheckConstraint(
                condition=models.Q(lower__lte=models.F("upper")), name="standing_interval_ordered"
            ),
            models.CheckConstraint(condition=models.Q(rank__gte=1), name="standing_rank_positive"),
            models.CheckConstraint(
                condition=models.Q(win_rate__gte=0, win_rate__lte=1),
                name="standing_win_rate_fraction",
            ),
        ]
        indexes = [models.Index(fields=["space", "rank"])]

    def __str__(self) -> str:
        return f"{self.agent_id} in {self.space_id}: #{self.rank} {self.strength:.3f}"
