"""Spaces: task domains with rules, fee tiers, payout schedule, judge panel and a prompt bank."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from spaces import validation
from spaces.prompt_bank import MAX_PROMPT_CHARS, MAX_REFERENCE_CHARS

MIN_AGENTS_PER_MATCH = 2
MAX_AGENTS_PER_MATCH = 8
BPS = 10_000
MAX_TOTAL_RAKE_BPS = 5_000  # creator + platform together never take more than half the pot
MAX_HELDOUT_FRACTION = Decimal("0.5")


class Space(models.Model):
    class TaskKind(models.TextChoices):
        OPEN = "open", "open (judged by AI)"
        VERIFIABLE = "verifiable", "verifiable (reference answers or tests)"

    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAUSED = "paused"
        CLOSED = "closed"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="spaces_created"
    )
    task_kind = models.CharField(max_length=16, choices=TaskKind.choices, default=TaskKind.OPEN)
    rules = models.JSONField(
        default=validation.default_rules,
        blank=True,
        help_text='e.g. {"answer_format": "number", "max_new_tokens_cap": 64, "max_chars": 200, '
        '"banned_substrings": []}; answer_format is free, number or single_line.',
    )
    agents_per_match = models.PositiveSmallIntegerField(
        default=2,
        validators=[
            MinValueValidator(MIN_AGENTS_PER_MATCH),
            MaxValueValidator(MAX_AGENTS_PER_MATCH),
        ],
    )
    payout_shares = models.JSONField(
        default=list,
        help_text='Shares by rank, 1st place first, decimal strings summing to 1: ["0.7", "0.3"]. '
        "Places past the list get nothing; tied agents split their places' shares.",
    )
    creator_rake_bps = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(BPS)], help_text="basis points of the pot"
    )
    platform_rake_bps = models.PositiveIntegerField(
        default=500, validators=[MaxValueValidator(BPS)], help_text="basis points of the pot"
    )
    subsidy = models.PositiveBigIntegerField(
        default=0, help_text="credits a sponsor adds to every match's pot (0 = none)"
    )
    judge_panel = models.JSONField(
        default=list,
        help_text='e.g. [{"kind": "verifier", "mode": "numeric", "tolerance": "0.001"}] '
        'or [{"kind": "pairwise-llm"}]',
    )
    heldout_fraction = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.1"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_HELDOUT_FRACTION)],
        help_text="share of uploaded prompts kept out of matches for evaluation (0 to 0.5)",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(agents_per_match__gte=MIN_AGENTS_PER_MATCH)
                & Q(agents_per_match__lte=MAX_AGENTS_PER_MATCH),
                name="space_agents_per_match_range",
            ),
            models.CheckConstraint(
                condition=Q(creator_rake_bps__gte=0) & Q(creator_rake_bps__lte=BPS),
                name="space_creator_rake_range",
            ),
            models.CheckConstraint(
                condition=Q(platform_rake_bps__gte=0) & Q(platform_rake_bps__lte=BPS),
                name="space_platform_rake_range",
            ),
            models.CheckConstraint(
                condition=Q(creator_rake_bps__lte=MAX_TOTAL_RAKE_BPS - F("platform_rake_bps")),
                name="space_total_rake_max",
            ),
            models.CheckConstraint(condition=Q(subsidy__gte=0), name="space_subsidy_gte_0"),
            models.CheckConstraint(
                condition=Q(heldout_fraction__gte=0)
                & Q(heldout_fraction__lte=MAX_HELDOUT_FRACTION),
                name="space_heldout_fraction_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "paused", "closed"]),
                name="space_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(task_kind__in=["open", "verifiable"]),
                name="space_task_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    # --- validation across fields (model forms and services both call full_clean) --------------

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}

        def attempt(field: str, normalize) -> None:
            try:
                setattr(self, field, normalize(getattr(self, field)))
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)

        attempt("rules", validation.normalize_rules)
        attempt("payout_shares", validation.normalize_payout_shares)
        attempt("judge_panel", validation.normalize_judge_panel)

        n = self.agents_per_match
        if "payout_shares" not in errors and isinstance(n, int) and len(self.payout_shares) > n:
            errors.setdefault("payout_shares", []).append(
                f"{len(self.payout_shares)} shares for a match of {n} agents: at most {n}"
            )
        rakes = (self.creator_rake_bps or 0) + (self.platform_rake_bps or 0)
        if rakes > MAX_TOTAL_RAKE_BPS:
            errors.setdefault("creator_rake_bps", []).append(
                f"creator and platform rakes together are {rakes} bps; at most "
                f"{MAX_TOTAL_RAKE_BPS} bps ({MAX_TOTAL_RAKE_BPS / 100:g}% of the pot)"
            )
        if "judge_panel" not in errors:
            fit = validation.panel_fit_problems(
                needs=validation.judge_panel_needs(self.judge_panel),
                task_kind=self.task_kind,
                answer_format=None if "rules" in errors else self.rules["answer_format"],
            )
            for field, problem in fit:
                errors.setdefault(field, []).append(problem)
        if self.pk and "rules" not in errors:
            problem = self.prompt_bank_problem(
                judge_panel=self.judge_panel if "judge_panel" not in errors else None
            )
            if problem:
                errors.setdefault("task_kind", []).append(problem)
        if errors:
            raise ValidationError(errors)

    def prompt_bank_problem(self, *, judge_panel: list[dict] | None = None) -> str | None:
        """Why the prompts already stored no longer fit this space's kind, answer format and
        (when given) judge panel: a verifier needs a reference answer on every prompt, a
        verifier in mode tests needs tests on every prompt."""
        needs = validation.judge_panel_needs(judge_panel)
        rows = self.prompts.values_list("id", "reference", "tests").iterator()
        for prompt_id, reference, tests in rows:
            problem = validation.prompt_problem(
                reference=reference,
                tests=tests or [],
                task_kind=self.task_kind,
                answer_format=self.rule("answer_format"),
                needs=needs,
            )
            if problem:
                return f"prompt #{prompt_id} does not fit: {problem}"
        return None

    # --- helpers for the match loop --------------------------------------------------------------

    def payout_share_decimals(self) -> list[Decimal]:
        return [Decimal(s) for s in self.payout_shares]

    def rule(self, name: str):
        return self.rules.get(name, validation.DEFAULT_RULES[name])

    @property
    def channel_group(self) -> str:
        return f"space_{self.slug}"


class FeeTier(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="fee_tiers")
    name = models.CharField(
        max_length=40,
        validators=[RegexValidator(r"^[\w .-]+$", "letters, digits, spaces, . _ - only")],
    )
    fee = models.PositiveBigIntegerField(default=0, help_text="credits per entry; 0 = free tier")
    # A tier removed by an economics change that entries or matches still point at stays as a
    # retired row (those rows keep their history); nobody enters a retired tier.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["space", "fee", "name"]
        constraints = [
            models.UniqueConstraint(fields=["space", "name"], name="feetier_unique_name"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="feetier_fee_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fee} credits)" if self.fee else f"{self.name} (free)"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Prompt(models.Model):
    class Split(models.TextChoices):
        TRAIN = "train"
        HELDOUT = "heldout"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField()
    # A digest instead of a unique index on the text itself: PostgreSQL btree entries are capped
    # at about 2.7 kB and prompts may be longer.
    text_sha256 = models.CharField(max_length=64, editable=False)
    reference = models.TextField(blank=True, default="")
    tests = models.JSONField(
        default=list,
        blank=True,
        help_text="Python test snippets run against the answer's code by a verifier in mode "
        'tests, e.g. ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]; at most '
        f"{validation.MAX_TESTS}, each at most {validation.MAX_TEST_CHARS} characters.",
    )
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.TRAIN)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["space", "id"]
        constraints = [
            models.UniqueConstraint(fields=["space", "text_sha256"], name="prompt_unique_text"),
            models.CheckConstraint(
                condition=Q(split__in=["train", "heldout"]), name="prompt_split_valid"
            ),
        ]
        indexes = [models.Index(fields=["space", "split", "id"])]

    def __str__(self) -> str:
        return self.text[:60]

    def save(self, *args, **kwargs):
        # The digest is derived data, kept in step with the text on every save.
        self.text_sha256 = text_digest(self.text)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # The same checks as an uploaded row, for prompts added one at a time (admin, services).
        errors: dict[str, list[str]] = {}
        self.text = (self.text or "").strip()
        self.reference = (self.reference or "").strip()
        if not self.text:
            errors["text"] = ["prompt is empty"]
        elif len(self.text) > MAX_PROMPT_CHARS:
            errors["text"] = [f"at most {MAX_PROMPT_CHARS} characters"]
        if len(self.reference) > MAX_REFERENCE_CHARS:
            errors["reference"] = [f"at most {MAX_REFERENCE_CHARS} characters"]
        try:
            self.tests = validation.normalize_tests(self.tests)
        except ValidationError as exc:
            errors["tests"] = exc.messages
        if self.space_id is not None:
            space = self.space
            needs = validation.judge_panel_needs(space.judge_panel)
            problem = "tests" not in errors and validation.prompt_problem(
                reference=self.reference,
                tests=self.tests,
                task_kind=space.task_kind,
                answer_format=space.rule("answer_format"),
                needs=needs,
            )
            if problem:
                lacks_tests = not self.tests and any(need.tests for need in needs)
                field = "tests" if lacks_tests else "reference"
                errors.setdefault(field, []).append(problem)
            if "text" not in errors:
                duplicate = space.prompts.filter(text_sha256=text_digest(self.text))
                if duplicate.exclude(pk=self.pk).exists():
                    errors["text"] = ["duplicate prompt: the space already has it"]
        if errors:
            raise ValidationError(errors)


class EconomicsChange(models.Model):
    """One change of a space's economics (payout shares, rakes, subsidy, fee tiers), public in
    its change log. A change to a space that players are in is announced first and takes effect
    ``ARENA_ECONOMICS_NOTICE_S`` later, for matches formed from then on (a match keeps the terms
    it formed under); otherwise it is applied at once and logged as applied."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        WITHDRAWN = "withdrawn"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="economics_changes")
    # The user who made it; null: the platform itself (commands, seeding).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="economics_changes",
    )
    # {field: {"before": value, "after": value}} for the Space's economics fields.
    fields = models.JSONField(default=dict, blank=True)
    # [{"op": "add"|"change"|"remove", "tier": id or null, "name", "fee",
    #   "before_name", "before_fee"}]
    fee_tiers = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, default="", max_length=1000)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    announced_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # Why a change did not take effect (withdrawn by whom, or refused when it came due).
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-announced_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "applied", "withdrawn"]),
                name="economicschange_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(effective_at__gte=F("announced_at")),
                name="economicschange_effective_after_announced",
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(applied_at__isnull=False),
                name="economicschange_applied_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "effective_at"])]

    def __str__(self) -> str:
        return f"economics change #{self.pk} of space {self.space_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
