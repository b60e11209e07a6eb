"""Writes to spaces, fee tiers and prompt banks. Every function validates first and changes
nothing when it refuses (``SpaceError`` / ``PromptBankError``).

Economics changes (``space_update`` of payout shares, rakes, subsidy; ``fee_tier_*``) are logged
in the space's public change log and, while players are in the space, take effect after a notice
period (``spaces.changes``; ``apply_due_changes`` applies the due ones).

Who acts: the writes a creator can reach (``space_create``, ``space_update``, ``fee_tier_*``)
take a required ``actor``, the user on whose behalf they run (the admin passes ``request.user``),
or ``spaces.economics.PLATFORM`` for the platform itself (commands, seeding, staff code). Who may
change a space's economics, and when, is ``spaces.economics``; these writes ask it under the
space's row lock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from spaces import changes, economics, hooks, prompt_bank, validation
from spaces.economics import Actor
from spaces.errors import PromptBankError, RowError, SpaceError
from spaces.models import FeeTier, Prompt, Space, text_digest

# Fields a creator may change after creation; the slug names channel groups and URLs, so it stays.
EDITABLE_FIELDS = (
    "title",
    "description",
    "task_kind",
    "rules",
    "agents_per_match",
    "payout_shares",
    "creator_rake_bps",
    "platform_rake_bps",
    "subsidy",
    "judge_panel",
    "heldout_fraction",
)
MAX_PROMPTS_PER_SPACE = 100_000

# Allowed status moves. Closed is final: matches and payouts of a closed space stay as they were.
TRANSITIONS: dict[str, set[str]] = {
    Space.Status.DRAFT: {Space.Status.OPEN, Space.Status.CLOSED},
    Space.Status.OPEN: {Space.Status.PAUSED, Space.Status.CLOSED},
    Space.Status.PAUSED: {Space.Status.OPEN, Space.Status.CLOSED},
    Space.Status.CLOSED: set(),
}


def _as_space_error(exc: ValidationError) -> SpaceError:
    if hasattr(exc, "error_dict"):
        fields = {name: list(msgs) for name, msgs in exc.message_dict.items()}
        text = "; ".join(f"{name}: {' '.join(m)}" for name, m in fields.items())
        return SpaceError(text, field_errors=fields)
    return SpaceError(" ".join(exc.messages))


def _validate(space: Space) -> None:
    try:
        space.full_clean()
    except ValidationError as exc:
        raise _as_space_error(exc) from None


# --- spaces and fee tiers ---------------------------------------------------------------------


@transaction.atomic
def space_create(
    *,
    creator: AbstractBaseUser,
    slug: str,
    title: str,
    judge_panel: list[dict[str, Any]],
    payout_shares: list[str],
    description: str = "",
    task_kind: str = Space.TaskKind.OPEN,
    rules: dict[str, Any] | None = None,
    agents_per_match: int = 2,
    creator_rake_bps: int = 0,
    platform_rake_bps: int = 500,
    subsidy: int = 0,
    heldout_fraction: Decimal | str = Decimal("0.1"),
    actor: Actor,
    fee_tiers: list[tuple[str, int]] | None = None,
) -> Space:
    """A new space in draft status, with its fee tiers (``[("free", 0), ("pro", 100)]``).
    An ``actor`` who is not platform staff leaves the platform rake at its default."""
    space = Space(
        creator=creator,
        slug=slug,
        title=title,
        description=description,
        task_kind=task_kind,
        rules=rules or {},
        agents_per_match=agents_per_match,
        payout_shares=payout_shares,
        creator_rake_bps=creator_rake_bps,
        platform_rake_bps=platform_rake_bps,
        subsidy=subsidy,
        judge_panel=judge_panel,
        heldout_fraction=Decimal(str(heldout_fraction)),
    )
    _validate(space)
    economics.refuse_changes(stored=None, proposed=space, actor=actor)
    space.save()
    for name, fee in fee_tiers or []:
        fee_tier_create(space=space, name=name, fee=fee, actor=actor, log=False)
    return space


@transaction.atomic
def space_update(*, space: Space, actor: Actor, reason: str = "", **fields: Any) -> Space:
    """Change the ``EDITABLE_FIELDS`` given; an ``actor`` who is not platform staff may not
    change the platform rake. A change of the economics (payout shares, rakes, subsidy) while
    players are in the space is announced and takes effect after the notice period
    (``spaces.changes``); the other fields change at once.

    The space returned carries ``economics_change``: the ``EconomicsChange`` logged (pending,
    with its ``effective_at``, or applied), or None when no economics changed."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise SpaceError(f"cannot change {', '.join(unknown)}")
    stored = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
    if stored.status == Space.Status.CLOSED:
        raise SpaceError("a closed space cannot be changed")
    space = Space.objects.get(pk=stored.pk)  # the copy to change; ``stored`` stays as it was
    for name, value in fields.items():
        setattr(space, name, value)
    _validate(space)
    # After validation: the values compared are normalized as they would be stored.
    economics.refuse_changes(stored=stored, proposed=space, actor=actor)
    changed = {
        name: {"before": getattr(stored, name), "after": getattr(space, name)}
        for name in economics.ECONOMICS_FIELDS
        if getattr(space, name) != getattr(stored, name)
    }
    change = None
    if changed:
        _refuse_conflicts(economics.pending_conflicts(stored, fields=list(changed)))
        scheduled = economics.needs_notice(stored)
        if scheduled:
            # Checked as it will stand once every announced change has taken effect too.
            future = changes.future_space(stored)
            for name in fields:
                setattr(future, name, getattr(space, name))
            _validate(future)
            for name, values in changed.items():
                setattr(space, name, values["before"])  # until the change takes effect
        change = changes.record_change(
            space=stored, actor=actor, fields=changed, reason=reason, scheduled=scheduled
        )
    space.save()
    space.economics_change = change
    return space


def _refuse_conflicts(conflicts: dict[str, list[str]]) -> None:
    if conflicts:
        shown = sorted({m for messages in conflicts.values() for m in messages})
        raise SpaceError("; ".join(shown), field_errors=conflicts)


@transaction.atomic
def space_set_status(*, space: Space, status: str) -> Space:
    space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
    if status not in Space.Status.values:
        raise SpaceError(f"unknown status {status!r}")
    if status == space.status:
        return space
    if status not in TRANSITIONS[space.status]:
        raise SpaceError(f"a {space.status} space cannot become {status}")
    if status == Space.Status.OPEN:
        if not space.fee_tiers.exists():
            raise SpaceError("add at least one fee tier (a free one is fine) before opening")
        if not space.prompts.filter(split=Prompt.Split.TRAIN).exists():
            raise SpaceError("upload prompts (at least one in the train split) before opening")
    space.status = status
    space.save(update_fields=["status", "updated"])
    if status == Space.Status.CLOSED:
        hooks.space_closed(space)
    return space


def _lock_for_fee_tiers(space_id: int, actor: Actor) -> tuple[Space, bool]:
    """The space, locked, and whether a change of its fee tiers waits for the notice period."""
    space = Space.objects.select_for_update(no_key=True).get(pk=space_id)
    if space.status == Space.Status.CLOSED:
        raise SpaceError("a closed space cannot be changed")
    economics.refuse_changes(stored=space, proposed=space, actor=actor, fee_tiers_changed=True)
    _refuse_conflicts(economics.pending_conflicts(space, fee_tiers=True))
    return space, economics.needs_notice(space)


def _check_fee_tier(tier: FeeTier) -> None:
    fee = tier.fee
    if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
        message = f"a fee is a whole number of credits >= 0, not {fee!r}"
        raise SpaceError(message, field_errors={"fee": [message]})
    try:
        tier.full_clean()
    except ValidationError as exc:
        raise _as_space_error(exc) from None


def _tier_op(op: str, *, tier: FeeTier | None, name: str, fee: int) -> dict[str, Any]:
    return {
        "op": op,
        "tier": tier.pk if tier else None,
        "name": name,
        "fee": fee,
        "before_name": tier.name if tier else None,
        "before_fee": tier.fee if tier else None,
    }


@transaction.atomic
def fee_tier_create(
    *, space: Space, name: str, fee: int, actor: Actor, reason: str = "", log: bool = True
) -> FeeTier:
    """A new fee tier. While players are in the space it is announced and added when the notice
    period ends: the tier returned is then not saved yet (``pk`` None). The tier carries
    ``economics_change``, the change logged (None when ``log`` is False: a space's first tiers)."""
    space, scheduled = _lock_for_fee_tiers(space.pk, actor)
    tier = FeeTier(space=space, name=name, fee=fee)
    _check_fee_tier(tier)
    if not scheduled:
        tier.save()
    tier.economics_change = None
    if log or scheduled:
        tier.economics_change = changes.record_change(
            space=space,
            actor=actor,
            fee_tiers=[_tier_op("add", tier=None, name=tier.name, fee=fee)],
            reason=reason,
            scheduled=scheduled,
        )
    return tier


@transaction.atomic
def fee_tier_update(
    *, tier: FeeTier, name: str, fee: int, actor: Actor, reason: str = ""
) -> FeeTier:
    """Rename a tier or change its fee. While players are in the space the change is announced
    and the tier returned is still the stored one; entries already waiting keep the fee they
    paid either way. The tier carries ``economics_change`` (None when nothing changed)."""
    space, scheduled = _lock_for_fee_tiers(tier.space_id, actor)
    stored = FeeTier.objects.get(pk=tier.pk, space=space, retired_at__isnull=True)
    proposed = FeeTier.objects.get(pk=stored.pk)
    proposed.name, proposed.fee = name, fee
    _check_fee_tier(proposed)
    if (proposed.name, proposed.fee) == (stored.name, stored.fee):
        stored.economics_change = None
        return stored
    change = changes.record_change(
        space=space,
        actor=actor,
        fee_tiers=[_tier_op("change", tier=stored, name=proposed.name, fee=proposed.fee)],
        reason=reason,
        scheduled=scheduled,
    )
    result = stored if scheduled else proposed
    if not scheduled:
        proposed.save()
    result.economics_change = change
    return result


@transaction.atomic
def fee_tier_delete(*, tier: FeeTier, actor: Actor, reason: str = ""):
    """Remove a tier; returns the ``EconomicsChange`` logged. While players are in the space the
    removal is announced and happens when the notice period ends (entries then still waiting in
    the tier get their fees back). A tier that entries or matches used is kept, retired."""
    space, scheduled = _lock_for_fee_tiers(tier.space_id, actor)
    tier = FeeTier.objects.get(pk=tier.pk, space=space, retired_at__isnull=True)
    change = changes.record_change(
        space=space,
        actor=actor,
        fee_tiers=[_tier_op("remove", tier=tier, name=tier.name, fee=tier.fee)],
        reason=reason,
        scheduled=scheduled,
    )
    if not scheduled:
        if tier.entries.exists() or tier.matches.exists():
            tier.retired_at = change.applied_at
            tier.save(update_fields=["retired_at"])
        else:
            tier.delete()
    return change


# --- prompt banks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: int
    train: int
    heldout: int


def _check_rows(space: Space, rows: list[prompt_bank.BankRow]) -> list[RowError]:
    errors: list[RowError] = []
    answer_format = space.rule("answer_format")
    needs = validation.judge_panel_needs(space.judge_panel)
    existing = set(space.prompts.values_list("text_sha256", flat=True))
    if len(existing) + len(rows) > MAX_PROMPTS_PER_SPACE:
        errors.append(RowError(0, f"a space holds at most {MAX_PROMPTS_PER_SPACE} prompts"))
    first_seen: dict[str, int] = {}
    for row in rows:
        digest = text_digest(row.text)
        if digest in existing:
            errors.append(RowError(row.row, "duplicate prompt: the space already has it"))
        elif digest in first_seen:
            errors.append(RowError(row.row, f"duplicate prompt: same as row {first_seen[digest]}"))
        else:
            first_seen[digest] = row.row
        problem = validation.prompt_problem(
            reference=row.reference,
            tests=list(row.tests),
            task_kind=space.task_kind,
            answer_format=answer_format,
            needs=needs,
        )
        if problem:
            errors.append(RowError(row.row, problem))
    return errors


@transaction.atomic
def prompt_bank_import(
    *, space: Space, file_name: str, content: bytes, heldout_fraction: Decimal | None = None
) -> ImportResult:
    """Add every prompt of a JSONL/CSV file to the space, or none: any bad row refuses the file
    with a PromptBankError listing each problem by row. Rows that name no split get one from
    ``assign_split`` (``heldout_fraction`` defaults to the space's)."""
    fraction = (
        space.heldout_fraction if heldout_fraction is None else Decimal(str(heldout_fraction))
    )
    if not Decimal(0) <= fraction <= Decimal("0.5"):
        raise PromptBankError([RowError(0, f"heldout_fraction must be 0 to 0.5, not {fraction}")])
    space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
    if space.status == Space.Status.CLOSED:
        raise PromptBankError([RowError(0, "a closed space takes no new prompts")])
    rows, errors = prompt_bank.parse(file_name=file_name, content=content)
    if not any(e.row == 0 for e in errors):
        # Rows that parsed are checked against the space too, so one upload shows every problem.
        errors = sorted(errors + _check_rows(space, rows), key=lambda e: e.row)
    if errors:
        raise PromptBankError(errors)
    prompts = [
        Prompt(
            space=space,
            text=row.text,
            text_sha256=text_digest(row.text),
            reference=row.reference,
            tests=list(row.tests),
            split=row.split or prompt_bank.assign_split(row.text, fraction),
        )
        for row in rows
    ]
    try:
        Prompt.objects.bulk_create(prompts, batch_size=500)
    except IntegrityError:
        # Another upload to the same space added one of these prompts at the same moment.
        raise PromptBankError(
            [RowError(0, "a concurrent upload added some of these prompts; try again")]
        ) from None
    heldout = sum(p.split == Prompt.Split.HELDOUT for p in prompts)
    return ImportResult(created=len(prompts), train=len(prompts) - heldout, heldout=heldout)


@transaction.atomic
def prompt_create(
    *,
    space: Space,
    text: str,
    reference: str = "",
    split: str | None = None,
    tests: list[str] | None = None,
) -> Prompt:
    """One prompt, checked like an uploaded row; no split: decided from its text. ``tests``:
    Python snippets for a verifier in mode tests (see ``validation.normalize_tests``)."""
    if split not in (None, "", *Prompt.Split.values):
        raise SpaceError(f"split must be train or heldout, not {split!r}")
    space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
    if space.status == Space.Status.CLOSED:
        raise SpaceError("a closed space takes no new prompts")
    text = (text or "").strip()
    prompt = Prompt(
        space=space,
        text=text,
        reference=reference or "",
        tests=[] if tests is None else tests,
        split=split or prompt_bank.assign_split(text, space.heldout_fraction),
    )
    try:
        prompt.full_clean(exclude=["text_sha256"])
    except ValidationError as exc:
        raise _as_space_error(exc) from None
    prompt.save()
    return prompt


# Re-exported: the matchmaker calls ``spaces.services.apply_due_changes(space)`` when it forms a
# match, and the change log's withdraw button calls ``economics_change_withdraw``.
apply_due_changes = changes.apply_due_changes
apply_all_due_changes = changes.apply_all_due_changes
economics_change_withdraw = changes.economics_change_withdraw
