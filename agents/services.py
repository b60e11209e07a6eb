"""Writes for agents, adapter versions and the base-model registry."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from agents import adapters
from agents.errors import AgentError, AgentValidationError
from agents.models import DEFAULT_TARGET_MODULES, AdapterVersion, Agent, BaseModel

# Fields a player may set on create / update. Adapter-shape fields change the LoRA layout, so a
# change to one of them starts a fresh adapter (see agent_update).
SETTINGS_FIELDS = (
    "system_prompt",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "load_in_4bit",
    "learning_rate",
    "dpo_beta",
    "epochs",
    "batch_size",
    "temperature",
    "top_p",
    "top_k",
    "max_new_tokens",
    "repetition_penalty",
    "auto_enter_space",
    "auto_fee_tier",
    "auto_max_matches",
    "auto_budget",
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
    if base is not None:
        return base
    from agents.model_store import ensure_default_base_model

    return ensure_default_base_model()


def _check_settings(values: dict[str, Any]) -> None:
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise AgentError(f"unknown agent settings: {', '.join(sorted(unknown))}")


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


def _init_adapter_files(*, agent: Agent, seed: int):
    """Build a fresh adapter for ``agent``'s settings in a temp dir: (dir, sha256). Slow-ish
    (model skeleton + peft), so callers run it before opening their transaction when they can:
    SQLite holds its write lock for the whole transaction."""
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
    except Exception:
        adapters.remove_dir(work)
        raise
    return work, sha256


def _store_init_adapter(
    *, agent: Agent, number: int, seed: int, work: Path, sha256: str
) -> AdapterVersion:
    try:
        name = adapters.store_adapter_dir(
            source=work, agent_id=agent.id, number=number, sha256=sha256
        )
    finally:
        adapters.remove_dir(work)
    return AdapterVersion.objects.create(
        agent=agent, number=number, file=name, sha256=sha256, seed=seed, created_by="init"
    )


def _new_init_adapter(*, agent: Agent, number: int, seed: int | None) -> AdapterVersion:
    seed = secrets.randbits(_SEED_BITS) if seed is None else seed
    work, sha256 = _init_adapter_files(agent=agent, seed=seed)
    return _store_init_adapter(agent=agent, number=number, seed=seed, work=work, sha256=sha256)


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
    work, sha256 = _init_adapter_files(agent=agent, seed=seed)
    try:
        with transaction.atomic():
            _save(agent)
            agent.current_adapter = _store_init_adapter(
                agent=agent, number=0, seed=seed, work=work, sha256=sha256
            )
            agent.save(update_fields=["current_adapter"])
    except BaseException:
        adapters.remove_dir(work)
        agent.pk = None
        raise
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, by, **changes: Any) -> Agent:
    """Change an agent's name or settings. Only the owner (or staff) may. Changing the adapter
    shape (rank, alpha, dropout, target modules) starts a fresh adapter version, since the
    trained weights no longer fit; the old versions stay for the record."""
    if by.pk != agent.owner_id and not by.is_staff:
        raise AgentError("only the agent's owner can change it")
    allowed = set(SETTINGS_FIELDS) | {"name"}
    unknown = set(changes) - allowed
    if unknown:
        raise AgentError(f"cannot change: {', '.join(sorted(unknown))}")
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    shape_before = {f: getattr(agent, f) for f in ADAPTER_SHAPE_FIELDS}
    for field, value in changes.items():
        setattr(agent, field, value)
    _full_clean(agent)
    _save(agent)
    if any(getattr(agent, f) != shape_before[f] for f in ADAPTER_SHAPE_FIELDS):
        last = agent.adapter_versions.order_by("-number").first()
        agent.current_adapter = _new_init_adapter(
            agent=agent, number=(last.number + 1) if last else 0, seed=None
        )
        agent.save(update_fields=["current_adapter"])
    return agent


@transaction.atomic
def agent_fork(*, agent: Agent, owner, name: str) -> Agent:
    """A new agent for ``owner`` with the source's settings and its current adapter as the
    fork's version 0 (same bytes, same sha256, parent = the source version). The source's owner
    (or staff) may fork it: the system prompt and weights are theirs."""
    if owner.pk != agent.owner_id and not owner.is_staff:
        raise AgentError("only the agent's owner can fork it")
    values = {field: getattr(agent, field) for field in SETTINGS_FIELDS}
    # Automation is about the source's budget and entries, not the fork's.
    values.update(auto_enter_space=None, auto_fee_tier=None, auto_max_matches=0, auto_budget=0)
    fork = Agent(owner=owner, name=name, base_model=agent.base_model, forked_from=agent, **values)
    _full_clean(fork, exclude=["current_adapter"])
    _save(fork)
    source = agent.current_adapter
    if source is None:
        fork.current_adapter = _new_init_adapter(agent=fork, number=0, seed=None)
    else:
        name_in_storage = adapters.copy_stored_adapter(
            weights_name=source.file.name, agent_id=fork.id, number=0, sha256=source.sha256
        )
        fork.current_adapter = AdapterVersion.objects.create(
            agent=fork,
            number=0,
            file=name_in_storage,
            sha256=source.sha256,
            parent=source,
            seed=source.seed,
            created_by=f"fork:{agent.id}:v{source.number}",
        )
    fork.save(update_fields=["current_adapter"])
    return fork


@transaction.atomic
def adapter_version_create(
    *,
    agent: Agent,
    source_dir: Path,
    created_by: str,
    parent: AdapterVersion | None = None,
    make_current: bool = True,
) -> AdapterVersion:
    """Register a new adapter version (e.g. the output of a DPO job) from a peft directory.
    The files are validated and copied into storage; the next number is taken under a row
    lock so two jobs finishing together cannot both claim it."""
    sha256 = adapters.validate_adapter_dir(Path(source_dir))
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if parent is not None and parent.agent_id != agent.id:
        raise AgentError("the parent version belongs to another agent")
    last = agent.adapter_versions.order_by("-number").first()
    number = last.number + 1 if last else 0
    name = adapters.store_adapter_dir(
        source=Path(source_dir), agent_id=agent.id, number=number, sha256=sha256
    )
    version = AdapterVersion.objects.create(
        agent=agent, number=number, file=name, sha256=sha256, parent=parent, created_by=created_by
    )
    if make_current:
        agent.current_adapter = version
        agent.save(update_fields=["current_adapter", "updated_at"])
    return version


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
    from django.db.models import F

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


@transaction.atomic
def base_model_register(*, name: str, path: str, by, is_default: bool = False) -> BaseModel:
    """Add a local Hugging Face model directory to the registry (staff only). The directory must
    hold config.json and a tokenizer, checked without loading any weights."""
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
    from agents.model_store import offline

    offline()
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(str(directory))
    except Exception as exc:  # transformers raises several types for a bad config
        raise AgentError(f"{path}/config.json is not a usable model config: {exc}") from exc
    base = BaseModel(name=name, path=str(directory.resolve()), registered_by=by)
    _full_clean(base, exclude=["is_default"])
    if is_default:
        BaseModel.objects.filter(is_default=True).update(is_default=False)
        base.is_default = True
    base.save()
    return base
