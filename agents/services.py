"""Writes for agents, adapter versions and the base-model registry.

Adapter files are slow to make (a model skeleton + peft) and are files, not rows: every service
here makes and stores them first, outside any transaction, then records the rows in one short
transaction, and deletes the stored files again when that transaction fails. The file-writing
services open a durable transaction, so no caller can wrap them in a longer one (whose rollback
would leave the files behind).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from agents import adapters
from agents.errors import AgentError, AgentValidationError
from agents.model_store import ensure_default_base_model, offline
from agents.models import (
    DEFAULT_TARGET_MODULES,
    REVISION_FIELDS,
    AdapterVersion,
    Agent,
    AgentRevision,
    BaseModel,
)
from agents.revisions import revision_record

# Fields a player may set on create / update, in the order forms show them. Adapter-shape fields
# change the LoRA layout, so a change to one of them starts a fresh adapter (see agent_update).
SETTINGS_FIELDS = (
    *REVISION_FIELDS,  # the configuration a revision records, then what is not part of it:
    "auto_enter_space",
    "auto_fee_tier",
    "auto_max_matches",
    "auto_budget",
    "share_prompt",
)
ADAPTER_SHAPE_FIELDS = ("lora_rank", "lora_alpha", "lora_dropout", "target_modules")
_SEED_BITS = 62


OWNER_NAME = ("owner", "name")  # the fields of the model's one unique constraint


def _name_taken_message(name: str) -> str:
    return f"You already have an agent named “{name}”."


def _full_clean(instance, *, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise AgentValidationError({NON_FIELD_ERRORS: exc.messages}) from exc
        errors: dict[str, list[str]] = {}
        for field, field_errors in exc.error_dict.items():
            for error in field_errors:
                # The (owner, name) constraint names no field; it is the name the player chose.
                check = tuple((error.params or {}).get("unique_check", ()))
                if field == NON_FIELD_ERRORS and check == OWNER_NAME:
                    errors.setdefault("name", []).append(_name_taken_message(instance.name))
                else:
                    errors.setdefault(field, []).extend(error.messages)
        raise AgentValidationError(errors) from exc


def _default_base_model() -> BaseModel:
    base = BaseModel.objects.filter(is_default=True).first()
    return base if base is not None else ensure_default_base_model()


def _check_settings(values: dict[str, Any]) -> None:
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise AgentError(f"unknown agent settings: {', '.join(sorted(unknown))}")


def _shape(agent: Agent) -> dict[str, Any]:
    return {field: getattr(agent, field) for field in ADAPTER_SHAPE_FIELDS}


def _save(agent: Agent) -> None:
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError as exc:
        # full_clean checked everything a form can check; what is left is a race on the name.
        taken = Agent.objects.filter(owner_id=agent.owner_id, name=agent.name)
        if taken.exclude(pk=agent.pk).exists():
            raise AgentValidationError({"name": [_name_taken_message(agent.name)]}) from exc
        raise AgentError(f"could not save the agent: {exc}") from exc


def _store_init_adapter(*, agent: Agent, seed: int) -> tuple[str, str]:
    """Build a fresh adapter for ``agent``'s settings and put it in storage: (storage name of
    the weights, sha256). Slow and file-writing: call it before the transaction that records
    the version, and delete the files if that transaction fails (``_files_kept_on_commit``)."""
    work = adapters.temp_dir()
    try:
        sha256 = adapters.init_adapter(
            base_model_path=agent.base_model.path,
            rank=agent.lora_rank,
            alpha=agent.lora_alpha,
            dropout=agent.lora_dropout,
            target_modules=agent.target_modules,
            seed=seed,
            out_dir=work,
        )
        name = adapters.store_adapter_dir(source=work, owner_id=agent.owner_id, sha256=sha256)
    finally:
        adapters.remove_dir(work)
    return name, sha256


@contextmanager
def _files_kept_on_commit(weights_name: str | None) -> Iterator[None]:
    """A durable transaction for rows that name an adapter already in storage: when it does not
    commit, the adapter's files are deleted, so a failed write leaves no orphan behind."""
    try:
        with transaction.atomic(durable=True):
            yield
    except BaseException:
        if weights_name is not None:
            adapters.delete_stored_adapter(weights_name)
        raise


def _insert_with_version_zero(agent: Agent, *, by, note: str = "", **version: Any) -> Agent:
    """Insert a new agent, its version 0 (whose files are already in storage) and its
    configuration revision 1."""
    try:
        with _files_kept_on_commit(version["file"]):
            _save(agent)
            agent.current_adapter = AdapterVersion.objects.create(agent=agent, number=0, **version)
            agent.save(update_fields=["current_adapter"])
            revision_record(agent, by=by, note=note)
    except BaseException:
        agent.pk = None  # the row is gone with the transaction
        raise
    return agent


def _next_number(agent: Agent) -> int:
    last = agent.adapter_versions.order_by("-number").first()
    return last.number + 1 if last else 0


def agent_create(
    *,
    owner,
    name: str,
    base_model: BaseModel | None = None,
    seed: int | None = None,
    **settings: Any,
) -> Agent:
    """Create an agent with a freshly initialised LoRA adapter (version 0) from ``seed``
    (random when not given; recorded on the version either way)."""
    _check_settings(settings)
    settings.setdefault("target_modules", list(DEFAULT_TARGET_MODULES))
    agent = Agent(
        owner=owner, name=name, base_model=base_model or _default_base_model(), **settings
    )
    _full_clean(agent, exclude=["current_adapter"])
    seed = secrets.randbits(_SEED_BITS) if seed is None else seed
    weights, sha256 = _store_init_adapter(agent=agent, seed=seed)
    return _insert_with_version_zero(
        agent, by=owner, file=weights, sha256=sha256, seed=seed, created_by="init"
    )


def agent_update(*, agent: Agent, by, note: str = "", **changes: Any) -> Agent:
    """Change an agent's name or settings. Only the owner (or staff) may. Changing the adapter
    shape (rank, alpha, dropout, target modules) starts a fresh adapter version, since the
    trained weights no longer fit; the old versions stay for the record. A change to the
    configuration (``REVISION_FIELDS``) records a new revision, with ``note`` (what the player
    says they changed); a change of name, automation or sharing alone records none."""
    if by.pk != agent.owner_id and not by.is_staff:
        raise AgentError("only the agent's owner can change it")
    allowed = set(SETTINGS_FIELDS) | {"name"}
    unknown = set(changes) - allowed
    if unknown:
        raise AgentError(f"cannot change: {', '.join(sorted(unknown))}")
    note = _checked_note(note)
    # Check the changes and build any new adapter on a fresh copy, before the transaction.
    planned = Agent.objects.select_related("base_model").get(pk=agent.pk)
    shape_before = _shape(planned)
    for field, value in changes.items():
        setattr(planned, field, value)
    _full_clean(planned)
    weights = sha256 = seed = None
    if _shape(planned) != shape_before:
        seed = secrets.randbits(_SEED_BITS)
        weights, sha256 = _store_init_adapter(agent=planned, seed=seed)
    with _files_kept_on_commit(weights):
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        if _shape(agent) != shape_before:
            # The adapter built above was for another shape: nothing is saved.
            raise AgentError("the agent's adapter settings changed meanwhile; try again")
        for field, value in changes.items():
            setattr(agent, field, value)
        _full_clean(agent)
        _save(agent)
        if weights is not None:
            agent.current_adapter = AdapterVersion.objects.create(
                agent=agent,
                number=_next_number(agent),
                file=weights,
                sha256=sha256,
                seed=seed,
                created_by="init",
            )
            agent.save(update_fields=["current_adapter"])
        # Under the row lock: concurrent updates number their revisions one after the other.
        revision_record(agent, by=by, note=note)
    return agent


def _checked_note(note: Any) -> str:
    if not isinstance(note, str):
        raise AgentValidationError({"note": ["The revision note must be text."]})
    note = note.strip()
    limit = AgentRevision._meta.get_field("note").max_length
    if len(note) > limit:
        raise AgentValidationError(
            {"note": [f"The revision note is {len(note)} characters; at most {limit}."]}
        )
    return note


def agent_fork(*, agent: Agent, owner, name: str) -> Agent:
    """A new agent for ``owner`` with the source's settings and its current adapter as the
    fork's version 0 (same bytes, same sha256, parent = the source version). The source's owner
    (or staff) may fork it: the system prompt and weights are theirs."""
    if owner.pk != agent.owner_id and not owner.is_staff:
        raise AgentError("only the agent's owner can fork it")
    # What is stored, not what the caller's copy says: the fork and the revision it names
    # must be the same configuration.
    agent = Agent.objects.select_related("base_model", "current_adapter").get(pk=agent.pk)
    values = {field: getattr(agent, field) for field in SETTINGS_FIELDS}
    # Automation is about the source's budget and entries, not the fork's.
    values.update(auto_enter_space=None, auto_fee_tier=None, auto_max_matches=0, auto_budget=0)
    # Sharing the prompt is a choice made for one agent's public page, not inherited.
    values["share_prompt"] = False
    fork = Agent(owner=owner, name=name, base_model=agent.base_model, forked_from=agent, **values)
    _full_clean(fork, exclude=["current_adapter"])
    # The fork's revision 1 says which configuration of the source it started from.
    origin = revision_record(agent, by=owner)
    note = f"fork of {agent.name} r{origin.number}"
    source = agent.current_adapter
    if source is None:
        seed = secrets.randbits(_SEED_BITS)
        weights, sha256 = _store_init_adapter(agent=fork, seed=seed)
        return _insert_with_version_zero(
            fork, by=owner, note=note, file=weights, sha256=sha256, seed=seed, created_by="init"
        )
    weights = adapters.copy_stored_adapter(
        weights_name=source.file.name, owner_id=owner.pk, sha256=source.sha256
    )
    return _insert_with_version_zero(
        fork,
        by=owner,
        note=note,
        file=weights,
        sha256=source.sha256,
        parent=source,
        seed=source.seed,
        created_by=f"fork:{agent.id}:v{source.number}",
    )


def adapter_version_create(
    *,
    agent: Agent,
    source_dir: Path,
    created_by: str,
    parent: AdapterVersion | None = None,
    make_current: bool = True,
) -> AdapterVersion:
    """Register a new adapter version (e.g. the output of a DPO job) from a peft directory.
    The files are validated and copied into storage first; the next number is taken under a
    row lock so two jobs finishing together cannot both claim it."""
    if parent is not None and parent.agent_id != agent.pk:
        raise AgentError("the parent version belongs to another agent")
    source_dir = Path(source_dir)
    sha256 = adapters.validate_adapter_dir(source_dir)
    weights = adapters.store_adapter_dir(source=source_dir, owner_id=agent.owner_id, sha256=sha256)
    with _files_kept_on_commit(weights):
        return adapter_version_insert(
            agent=agent,
            weights=weights,
            sha256=sha256,
            parent=parent,
            created_by=created_by,
            make_current=make_current,
        )


def adapter_version_insert(
    *,
    agent: Agent,
    weights: str,
    sha256: str,
    created_by: str,
    parent: AdapterVersion | None = None,
    make_current: bool = False,
) -> AdapterVersion:
    """The row of an adapter whose files are already in storage (``store_adapter_dir``), to be
    called inside the caller's transaction, which deletes the files when it fails. The next
    number is taken under a row lock so two jobs finishing together cannot both claim it."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    version = AdapterVersion.objects.create(
        agent=agent,
        number=_next_number(agent),
        file=weights,
        sha256=sha256,
        parent=parent,
        created_by=created_by,
    )
    if make_current:
        agent.current_adapter = version
        agent.save(update_fields=["current_adapter", "updated_at"])
    return version


files_kept_on_commit = _files_kept_on_commit  # for services of this app that store files first


@transaction.atomic
def agent_set_current_adapter(*, agent: Agent, version: AdapterVersion) -> Agent:
    """Promote (or roll back to) one of the agent's own versions."""
    if version.agent_id != agent.id:
        raise AgentError("that adapter version belongs to another agent")
    Agent.objects.filter(pk=agent.pk).update(current_adapter=version)
    agent.current_adapter = version
    return agent


@transaction.atomic
def agent_count_auto_entry(*, agent: Agent, fee: int) -> bool:
    """Count one automatic entry against the agent's limits, atomically: True when it fits
    (counter bumped), False when the match cap or the budget would be exceeded."""
    if fee < 0:
        raise AgentError("a fee cannot be negative")
    updated = Agent.objects.filter(
        pk=agent.pk,
        auto_matches_entered__lt=F("auto_max_matches"),
        auto_budget__gte=fee,
    ).update(
        auto_matches_entered=F("auto_matches_entered") + 1,
        auto_budget=F("auto_budget") - fee,
    )
    return updated == 1


def base_model_register(*, name: str, path: str, by, is_default: bool = False) -> BaseModel:
    """Add a local Hugging Face model directory to the registry (staff only). The directory must
    hold config.json and a tokenizer, checked without loading any weights, before the short
    transaction that writes the row."""
    if by is None or not by.is_staff:
        raise AgentError("only staff can register base models")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise AgentError(f"{path} is not a directory")
    if not (directory / "config.json").is_file():
        raise AgentError(f"{path} has no config.json")
    tokenizer_files = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
    if not any((directory / f).is_file() for f in tokenizer_files):
        raise AgentError(f"{path} has no tokenizer (tokenizer.json / tokenizer.model / vocab.json)")
    offline()
    try:
        from transformers import AutoConfig  # heavy: loaded only when a model is registered

        AutoConfig.from_pretrained(str(directory))
    except Exception as exc:  # transformers raises several types for a bad config
        raise AgentError(f"{path}/config.json is not a usable model config: {exc}") from exc
    base = BaseModel(name=name, path=str(directory.resolve()), registered_by=by)
    _full_clean(base, exclude=["is_default"])
    with transaction.atomic():
        if is_default:
            BaseModel.objects.filter(is_default=True).update(is_default=False)
            base.is_default = True
        base.save()
    return base
