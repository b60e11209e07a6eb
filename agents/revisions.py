"""Agent configuration revisions: every configuration an agent plays with is kept and numbered.

``revision_record`` is called wherever a configuration starts to matter (an agent is created or
changed, a match's rollout reads it): it returns the agent's latest revision when that still
matches the agent's configuration, else stores a new one. Recording at rollout too means a
configuration written past the services (the admin, a shell) is still attributed correctly."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from agents.models import REVISION_FIELDS, Agent, AgentRevision


def config_of(agent: Agent) -> dict[str, Any]:
    """The agent's configuration as a revision stores it (JSON values)."""
    config = {field: getattr(agent, field) for field in REVISION_FIELDS}
    config["target_modules"] = list(config["target_modules"] or [])
    return config


def latest_revision(agent: Agent) -> AgentRevision | None:
    return agent.revisions.order_by("-number").first()


def revision_record(agent: Agent, *, by=None, note: str = "") -> AgentRevision:
    """The revision of ``agent``'s current configuration: the latest one if unchanged, else a
    new one numbered after it. Safe under races: two callers recording the same new configuration
    end up with one revision (the unique number decides; the loser re-reads)."""
    config = config_of(agent)
    for _attempt in range(3):
        latest = latest_revision(agent)
        if latest is not None and latest.config == config:
            return latest
        try:
            with transaction.atomic():
                return AgentRevision.objects.create(
                    agent=agent,
                    number=(latest.number + 1) if latest else 1,
                    config=config,
                    created_by=by if getattr(by, "pk", None) else None,
                    note=note,
                )
        except IntegrityError:
            continue  # another process stored that number first: read again
    raise RuntimeError(f"could not record a revision of agent #{agent.pk}")


# How each recorded field is named on pages and in diffs (in the order forms show them).
FIELD_LABELS: dict[str, str] = {
    "system_prompt": "System prompt",
    "temperature": "Temperature",
    "top_p": "Top-p",
    "top_k": "Top-k",
    "max_new_tokens": "Max new tokens",
    "repetition_penalty": "Repetition penalty",
    "lora_rank": "LoRA rank",
    "lora_alpha": "LoRA alpha",
    "lora_dropout": "LoRA dropout",
    "target_modules": "LoRA target modules",
    "load_in_4bit": "Load in 4-bit",
    "learning_rate": "Learning rate",
    "dpo_beta": "DPO beta",
    "epochs": "Epochs",
    "batch_size": "Batch size",
}
assert tuple(FIELD_LABELS) == REVISION_FIELDS  # noqa: S101 - a new field needs its label here

HIDDEN = "(not shared)"


def display_value(field: str, value: Any) -> str:
    """A recorded value as a page shows it (never a Python repr)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "–"
    if field == "system_prompt" and not value:
        return "(none)"
    return str(value)


def diff(
    a: AgentRevision | dict[str, Any] | None,
    b: AgentRevision | dict[str, Any],
    *,
    show_prompt: bool = True,
) -> list[tuple[str, str, str]]:
    """What changed from ``a`` to ``b`` (revisions or their configs): (field label, before,
    after) for each changed field, in form order. ``a`` None (a first revision) diffs against
    nothing: every field. Without ``show_prompt`` a changed prompt is listed but not shown."""
    before = (a.config if isinstance(a, AgentRevision) else a) or {}
    after = b.config if isinstance(b, AgentRevision) else b
    changes = []
    for field in REVISION_FIELDS:
        old, new = before.get(field), after.get(field)
        if a is not None and old == new:
            continue
        if field == "system_prompt" and not show_prompt:
            old_text, new_text = HIDDEN, HIDDEN
        else:
            old_text = display_value(field, old) if a is not None else "–"
            new_text = display_value(field, new)
        changes.append((FIELD_LABELS[field], old_text, new_text))
    return changes


def visible_config(config: dict[str, Any], *, show_prompt: bool) -> dict[str, Any]:
    """A revision's config as a viewer may see it: the prompt only when ``show_prompt``."""
    shown = dict(config)
    if not show_prompt:
        shown["system_prompt"] = None
    return shown


def revisions_of(agent: Agent):
    """The agent's revisions, oldest first, with who made them loaded."""
    return agent.revisions.select_related("created_by").order_by("number")


def history(agent: Agent, *, show_prompt: bool) -> list[dict[str, Any]]:
    """The agent's revisions, newest first, each with what changed from the one before."""
    rows, previous = [], None
    for revision in revisions_of(agent):
        rows.append(
            {
                "revision": revision,
                "changes": diff(previous, revision, show_prompt=show_prompt),
                "first": previous is None,
            }
        )
        previous = revision
    return rows[::-1]


def revision_numbered(agent: Agent, number: Any) -> AgentRevision | None:
    """Revision ``number`` of the agent (as typed in a query string), or None."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        return None
    return agent.revisions.filter(number=number).first()
