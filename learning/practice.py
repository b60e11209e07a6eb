"""Practice before paying: head-to-head games for no prize.

``practice_request`` checks everything, charges the operator's fee (``ARENA_PRACTICE_FEE``, held
in escrow ``practice:<id>``: paid to the platform when the games are played, refunded when they
cannot be), keeps each player to ``ARENA_PRACTICE_PER_DAY`` runs a day, and queues
``learning.judge_practice`` (judge queue). The task plays K of the space's training prompts (a
choice fixed by the run's seed) through ``learning.headtohead``, the promotion gate's own
machinery, and stores the games and side A's win rate with its 95% interval.

What a run compares (side A against side B), each side an agent's configuration and adapter:

- a draft: the agent's live configuration with the draft's values set, its live adapter (none
  when the draft changes the adapter's shape: a fresh LoRA adapter starts as the base model),
  against the agent's live configuration or any other agent or revision of the owner's;
- two agents of the owner, two revisions of one agent, or a fork against its parent.

A run never pays prizes, never moves a rating and never makes a preference pair: its games are
not matches. ``practice_apply`` makes a draft the agent's live configuration (a new revision),
only while the agent is still configured as when the run was asked for.
"""

from __future__ import annotations

import logging
import random
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agents.errors import AgentError
from agents.models import REVISION_FIELDS, Agent, AgentRevision
from agents.revisions import config_of, latest_revision
from agents.services import ADAPTER_SHAPE_FIELDS, agent_update
from arena.services import dispatch
from learning import headtohead
from learning.errors import PracticeError, PracticeValidationError
from learning.headtohead import Side
from learning.models import PracticeGame, PracticeRun
from ledger import services as ledger
from ledger.errors import LedgerError
from ledger.models import AccountKind
from spaces.models import Prompt, Space

logger = logging.getLogger(__name__)

TASK = "learning.judge_practice"  # routed to the judge queue, like the gate
PROMPT_FIELDS = ("system_prompt",)
GENERATION_FIELDS = ("temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty")
_SEED_BITS = 31  # every game's seed stays within what every backend takes

Choice = Agent | AgentRevision  # a side: an agent's live configuration, or one revision


def field_words(field: str) -> str:
    """A configuration field as a player reads it ("max new tokens")."""
    return str(Agent._meta.get_field(field).verbose_name)


def escrow_ref(run: PracticeRun) -> str:
    return f"practice:{run.pk}"


# --- what each side is ------------------------------------------------------------------------


def side_from_token(*, owner, token: Any, what: str = "the baseline") -> Choice:
    """``agent:<id>`` (an agent's live configuration) or ``revision:<agent id>:<number>``, of
    the owner's agents only; PracticeError naming ``what`` otherwise."""
    parts = token.split(":") if isinstance(token, str) else []
    numbers = [p for p in parts[1:] if p.isascii() and p.isdigit() and len(p) < 12]
    choice = None
    if len(parts) == 2 and parts[0] == "agent" and len(numbers) == 1:
        choice = Agent.objects.filter(pk=int(numbers[0]), owner=owner).first()
    elif len(parts) == 3 and parts[0] == "revision" and len(numbers) == 2:
        choice = (
            AgentRevision.objects.select_related("agent")
            .filter(agent_id=int(numbers[0]), agent__owner=owner, number=int(numbers[1]))
            .first()
        )
    if choice is None:
        raise PracticeError(f"{what.capitalize()} is not one of your agents or their revisions.")
    return choice


def token_of(choice: Choice) -> str:
    if isinstance(choice, AgentRevision):
        return f"revision:{choice.agent_id}:{choice.number}"
    return f"agent:{choice.pk}"


def _shape(config: dict[str, Any]) -> tuple:
    return tuple(
        sorted(v) if isinstance(v, list) else v for v in (config[f] for f in ADAPTER_SHAPE_FIELDS)
    )


def _adapter_for(agent: Agent, config: dict[str, Any]):
    """The agent's live adapter when it fits ``config``'s adapter shape; else None (a fresh
    adapter of another shape answers as the base model: LoRA's B matrix starts at zero)."""
    return agent.current_adapter if _shape(config) == _shape(config_of(agent)) else None


def _live_revision(agent: Agent) -> AgentRevision | None:
    latest = latest_revision(agent)
    return latest if latest is not None and latest.config == config_of(agent) else None


def _side_of(choice: Choice) -> tuple[Agent, AgentRevision | None, dict[str, Any]]:
    """The side's agent as stored now (never a caller's stale copy), revision and config."""
    pk = choice.agent_id if isinstance(choice, AgentRevision) else choice.pk
    agent = Agent.objects.select_related("current_adapter", "base_model").get(pk=pk)
    if isinstance(choice, AgentRevision):
        return agent, choice, {**config_of(agent), **choice.config}
    return agent, _live_revision(agent), config_of(agent)


def _draft_config(agent: Agent, draft: Any) -> dict[str, Any]:
    """The agent's live configuration with the draft's values, checked by the Agent model's
    own validators (as the agent form is); PracticeValidationError naming each bad field."""
    if not isinstance(draft, dict):
        raise PracticeValidationError({"draft": ["The draft must map setting names to values."]})
    unknown = sorted(set(draft) - set(REVISION_FIELDS))
    if unknown:
        allowed = ", ".join(REVISION_FIELDS)
        message = f"A draft cannot set {', '.join(map(str, unknown))}; it may set: {allowed}."
        raise PracticeValidationError({"draft": [message]})
    errors = {
        f"draft.{field}": [message]
        for field, value in draft.items()
        if (message := _type_problem(field, value))
    }
    if errors:
        raise PracticeValidationError(errors)
    twin = headtohead.configured(agent, {**config_of(agent), **draft})
    others = [f.name for f in Agent._meta.concrete_fields if f.name not in REVISION_FIELDS]
    try:
        twin.full_clean(exclude=others, validate_unique=False)
    except ValidationError as exc:
        bad = exc.error_dict if hasattr(exc, "error_dict") else {"draft": exc.error_list}
        for field, field_errors in bad.items():
            words = field_words(field) if field in REVISION_FIELDS else "draft"
            messages = [m for e in field_errors for m in e.messages]
            errors[f"draft.{field}"] = [f"{words.capitalize()}: {m}" for m in messages]
        raise PracticeValidationError(errors) from None
    return config_of(twin)  # the cleaned values ("0.5" is 0.5)


_EXPECTED = {  # the JSON type each kind of configuration field takes, in words
    "TextField": ((str,), "text"),
    "FloatField": ((int, float), "a number"),
    "PositiveIntegerField": ((int,), "a whole number"),
    "BooleanField": ((bool,), "true or false"),
    "JSONField": ((list,), "a list of module names"),
}


def _type_problem(field: str, value: Any) -> str | None:
    """A value of the wrong JSON type ("0.5" for a number, true for a count), in words; the
    model's validators check the ranges after."""
    types, words = _EXPECTED[Agent._meta.get_field(field).get_internal_type()]
    wrong = not isinstance(value, types) or (bool not in types and isinstance(value, bool))
    if isinstance(value, list):
        wrong = wrong or not all(isinstance(item, str) for item in value)
    return f"The {field_words(field)} must be {words}." if wrong else None


def _kind(a: Choice, b: Choice, a_agent: Agent, b_agent: Agent) -> str:
    if a_agent.pk == b_agent.pk:
        return PracticeRun.Kind.REVISIONS
    if a_agent.forked_from_id == b_agent.pk:
        return PracticeRun.Kind.FORK
    return PracticeRun.Kind.AGENTS


# --- asking for a run --------------------------------------------------------------------------


def _check_k(k: Any) -> int:
    most = settings.ARENA_PRACTICE_MAX_PROMPTS
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= most:
        raise PracticeValidationError(
            {"k": [f"The number of prompts must be a whole number from 1 to {most}."]}
        )
    return k


def _check_space(space: Any) -> Space:
    if not isinstance(space, Space):
        raise PracticeValidationError({"space": ["Choose a space to practise in."]})
    if space.status == Space.Status.CLOSED:
        raise PracticeValidationError({"space": [f"The space {space.title} is closed."]})
    if not space.prompts.filter(split=Prompt.Split.TRAIN).exists():
        raise PracticeValidationError(
            {"space": [f"The space {space.title} has no training prompts to practise on."]}
        )
    return space


def practice_request(
    *,
    owner,
    agent: Choice,
    space: Space,
    k: int,
    draft: dict[str, Any] | None = None,
    baseline: Choice | None = None,
) -> PracticeRun:
    """Queue a practice run of side A (``agent``: an agent, or a revision of one; with
    ``draft``, the agent's live configuration with the draft's values) against ``baseline``
    (an agent or a revision; None: the agent's live configuration). PracticeError, nothing
    stored or paid, when anything is wrong: a side not the owner's, a bad draft value, K out
    of range, a space without training prompts, the day's quota used, the fee unpaid."""
    a_agent, a_revision, a_config = _side_of(agent)
    if a_agent.owner_id != getattr(owner, "pk", None):
        raise PracticeError("The agent is not one of yours.")
    if baseline is None:
        if draft is None and not isinstance(agent, AgentRevision):
            raise PracticeValidationError(
                {"baseline": ["Choose what to compare with: another agent or a revision."]}
            )
        baseline = a_agent
    b_agent, b_revision, b_config = _side_of(baseline)
    if b_agent.owner_id != owner.pk:
        raise PracticeError("The baseline is not one of your agents or their revisions.")
    if draft is not None:
        if isinstance(agent, AgentRevision):
            raise PracticeValidationError(
                {"draft": ["A draft starts from an agent, not a revision."]}
            )
        a_config, a_revision = _draft_config(a_agent, draft), None
        a_adapter, kind = _adapter_for(a_agent, a_config), PracticeRun.Kind.DRAFT
    else:
        if (a_agent.pk, a_config) == (b_agent.pk, b_config):
            raise PracticeValidationError(
                {
                    "baseline": [
                        "Both sides are the same configuration: choose another to compare with."
                    ]
                }
            )
        a_adapter, kind = _adapter_for(a_agent, a_config), _kind(agent, baseline, a_agent, b_agent)
    k, space = _check_k(k), _check_space(space)
    with transaction.atomic():
        _check_quota(owner)
        fee = settings.ARENA_PRACTICE_FEE
        run = PracticeRun.objects.create(
            owner=owner,
            agent=a_agent,
            space=space,
            kind=kind,
            a_agent=a_agent,
            a_revision=a_revision,
            a_config=a_config,
            a_adapter=a_adapter,
            a_live=draft is None and not isinstance(agent, AgentRevision),
            b_agent=b_agent,
            b_revision=b_revision,
            b_config=b_config,
            b_adapter=_adapter_for(b_agent, b_config),
            b_live=not isinstance(baseline, AgentRevision),
            base_config=config_of(a_agent),
            k=k,
            seed=secrets.randbits(_SEED_BITS),
            fee=fee,
        )
        if fee:
            try:
                ledger.hold(
                    user=owner,
                    escrow_ref=escrow_ref(run),
                    amount=fee,
                    key=f"{escrow_ref(run)}:hold",
                )
            except LedgerError as exc:
                raise PracticeError(
                    f"The practice fee of {fee} credits cannot be paid: {exc}"
                ) from None
        dispatch.enqueue(TASK, run.pk)
    return run


def _check_quota(owner) -> None:
    """At most ARENA_PRACTICE_PER_DAY runs in any 24 hours; the owner's row is locked so two
    requests at once cannot both take the last one."""
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    most = settings.ARENA_PRACTICE_PER_DAY
    since = timezone.now() - timedelta(days=1)
    if PracticeRun.objects.filter(owner=owner, created_at__gte=since).count() >= most:
        raise PracticeError(
            f"You have used your {most} practice runs of the last 24 hours; try again later."
        )


# --- playing it --------------------------------------------------------------------------------


def practice_prompts(space: Space, k: int, seed: int) -> list[Prompt]:
    """K of the space's training prompts in an order fixed by ``seed`` (each once before any
    repeats, when K is more than there are)."""
    train = list(space.prompts.filter(split=Prompt.Split.TRAIN).order_by("pk"))
    if not train:
        return []
    order = random.Random(seed).sample(train, len(train))
    return [order[i % len(order)] for i in range(k)]


def _side(agent: Agent, config: dict[str, Any], adapter) -> Side:
    return Side(agent=headtohead.configured(agent, config), adapter=adapter)


def practice_play(*, run_id: int, backend=None) -> PracticeRun:
    """Play a queued run once (a second delivery finds it claimed and returns it)."""
    claimed = PracticeRun.objects.filter(pk=run_id, status=PracticeRun.Status.QUEUED).update(
        status=PracticeRun.Status.RUNNING
    )
    run = PracticeRun.objects.select_related(
        "space", "owner", "a_agent__base_model", "b_agent__base_model", "a_adapter", "b_adapter"
    ).get(pk=run_id)
    if not claimed:
        return run
    prompts = practice_prompts(run.space, run.k, run.seed)
    try:
        if not prompts:
            raise PracticeError("the space has no training prompts any more")
        games = headtohead.play_head_to_head(
            space=run.space,
            a=_side(run.a_agent, run.a_config, run.a_adapter),
            b=_side(run.b_agent, run.b_config, run.b_adapter),
            prompts=prompts,
            seeds=[(run.seed + n) % 2**_SEED_BITS for n in range(len(prompts))],
            backend=backend,
        )
    except Exception as exc:  # noqa: BLE001 - a run that cannot play says why and refunds
        logger.exception("practice run #%s failed", run.pk)
        with transaction.atomic():
            if run.fee:
                ledger.release(
                    user=run.owner,
                    escrow_ref=escrow_ref(run),
                    amount=run.fee,
                    key=f"{escrow_ref(run)}:refund",
                )
            detail = f"The games could not be played ({type(exc).__name__}: {exc}); fee refunded."
            return _finish(run, status=PracticeRun.Status.ERROR, detail=detail)
    score = headtohead.tally([g.outcome for g in games])
    with transaction.atomic():
        PracticeGame.objects.bulk_create(
            PracticeGame(
                run=run,
                prompt=g.prompt,
                seed=g.seed,
                a_text=g.a_text,
                b_text=g.b_text,
                outcome=g.outcome,
                verdicts=g.verdicts,
            )
            for g in games
        )
        if run.fee:
            platform = ledger.system_account(AccountKind.PLATFORM_REVENUE)
            ledger.settle(
                escrow_ref=escrow_ref(run),
                payouts=[(platform, run.fee)],
                key=f"{escrow_ref(run)}:paid",
            )
        run.games, run.wins, run.losses, run.ties = len(games), score.wins, score.losses, score.ties
        run.win_rate, run.low, run.high = score.rate, score.low, score.high
        detail = f"win rate {score.rate:.3f}, 95% interval [{score.low:.3f}, {score.high:.3f}]"
        return _finish(run, status=PracticeRun.Status.DONE, detail=detail)


def _finish(run: PracticeRun, *, status: str, detail: str) -> PracticeRun:
    run.status, run.detail, run.finished_at = status, detail, timezone.now()
    run.save(
        update_fields=[
            *("status", "detail", "finished_at"),
            *("games", "wins", "losses", "ties", "win_rate", "low", "high"),
        ]
    )
    return run


# --- applying a draft --------------------------------------------------------------------------


def practice_apply(*, run: PracticeRun, by) -> Agent:
    """Make a finished draft run's configuration the agent's live one (a new revision noted
    "applied practice run #N"). Refused when it is not a draft, not the caller's, not done,
    applied already, or the agent's configuration changed since the run was asked for."""
    run = PracticeRun.objects.select_related("agent").get(pk=run.pk)
    if getattr(by, "pk", None) != run.owner_id:
        raise PracticeError("Only the run's owner can apply its draft.")
    if run.kind != PracticeRun.Kind.DRAFT:
        raise PracticeError(
            f"Only a draft can be applied; this run compared {run.get_kind_display()}."
        )
    if run.applied_revision_id is not None:
        raise PracticeError(
            f"This draft was applied already (revision r{run.applied_revision.number})."
        )
    if run.status != PracticeRun.Status.DONE:
        state = "failed" if run.status == PracticeRun.Status.ERROR else "not finished yet"
        raise PracticeError(f"The run has {state}: apply a draft once its games are played.")
    agent = run.agent
    live = config_of(agent)
    if live != run.base_config:
        latest = latest_revision(agent)
        now = f" (it is revision r{latest.number} now)" if latest else ""
        raise PracticeError(
            f"{agent.name}'s configuration changed since this run started{now}; "
            "practise the draft again against the new configuration."
        )
    changes = {f: v for f, v in run.a_config.items() if live.get(f) != v}
    if not changes:
        raise PracticeError("The draft is the live configuration already: nothing to apply.")
    try:
        agent = agent_update(agent=agent, by=by, note=f"applied practice run #{run.pk}", **changes)
    except AgentError as exc:
        raise PracticeError(str(exc)) from None
    PracticeRun.objects.filter(pk=run.pk).update(applied_revision=latest_revision(agent))
    return agent
