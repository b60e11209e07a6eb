"""The promotion gate: does a training job's new adapter beat its parent?

``gate_run(job)`` plays ``ARENA_GATE_GAMES`` evaluation games on the space's held-out prompts
(never trained on: held-out prompts make no pairs). In each game the candidate (the job's new
version) and the baseline (its parent, or the base model when the job started from a fresh
adapter) answer the same prompt with the agent's generation settings and the same seed, all rows
of the gate in one batched generate; the space's judge panel ranks the two answers exactly as
in a match (shadow judges recorded, never counted). No credits move, no rating changes, no pair
is made: evaluation games are not matches.

Win rate = (wins + ties / 2) / games, with a 95% Wilson score interval. The candidate goes live
when the interval's lower bound is above 0.5; otherwise the gate refuses it (shown as such) and
the owner may still promote it by hand (``version_promote``) or roll back to any version.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.errors import AgentError
from agents.models import Agent, TrainingJob
from agents.services import agent_set_current_adapter
from judges.intervals import wilson_interval
from learning import headtohead
from learning.headtohead import Side, Tally
from learning.models import GateGame, GateRun
from spaces.models import Prompt, Space

__all__ = ["gate_prompts", "gate_run", "play_games", "tally", "wilson_interval", "Tally"]

logger = logging.getLogger(__name__)


def gate_prompts(space: Space, games: int) -> list[Prompt]:
    """``games`` held-out prompts, cycling through them in id order."""
    heldout = list(space.prompts.filter(split=Prompt.Split.HELDOUT).order_by("pk"))
    return [heldout[i % len(heldout)] for i in range(games)] if heldout else []


def play_games(
    *, agent: Agent, space: Space, candidate, baseline, prompts: list[Prompt], backend=None
) -> list[GateGame]:
    """The games, unsaved: the candidate is side A, the baseline side B, both with the agent's
    configuration (``learning.headtohead``)."""
    seeds = [1_000_003 * (candidate.pk + 1) + n for n in range(len(prompts))]
    games = headtohead.play_head_to_head(
        space=space,
        a=Side(agent=agent, adapter=candidate),
        b=Side(agent=agent, adapter=baseline),
        prompts=prompts,
        seeds=seeds,
        backend=backend,
    )
    return [
        GateGame(
            prompt=g.prompt,
            seed=g.seed,
            candidate_text=g.a_text,
            baseline_text=g.b_text,
            outcome=g.outcome,
            verdicts=g.verdicts,
        )
        for g in games
    ]


def gate_run(*, job: TrainingJob, backend=None) -> GateRun:
    """Run the gate of a succeeded job once (a second call returns the first run) and promote
    the candidate when it passes."""
    job = TrainingJob.objects.select_related("agent", "space", "result", "parent").get(pk=job.pk)
    existing = GateRun.objects.filter(job=job).first()
    if existing is not None:
        return existing
    if job.status != TrainingJob.Status.SUCCEEDED or job.result_id is None:
        raise AgentError(f"job #{job.pk} is {job.status}: there is no new version to gate")
    if job.space_id is None:
        raise AgentError(f"job #{job.pk} trained on several spaces: promote its version by hand")
    gate = GateRun.objects.create(
        job=job, space=job.space, candidate=job.result, baseline=job.parent
    )
    prompts = gate_prompts(job.space, settings.ARENA_GATE_GAMES)
    if not prompts:
        detail = "the space has no held-out prompts to evaluate on; promote by hand"
        return _finish(gate, status=GateRun.Status.ERROR, detail=detail)
    try:
        games = play_games(
            agent=job.agent,
            space=job.space,
            candidate=job.result,
            baseline=job.parent,
            prompts=prompts,
            backend=backend,
        )
    except Exception as exc:  # noqa: BLE001 - a gate that cannot play says why; nothing goes live
        logger.exception("gate of job #%s failed", job.pk)
        return _finish(gate, status=GateRun.Status.ERROR, detail=f"{type(exc).__name__}: {exc}")
    return _score(gate, games)


def tally(games: list[GateGame]) -> Tally:
    """What the games say about the candidate, and whether the gate lets it through."""
    return headtohead.tally([g.outcome for g in games])


def _score(gate: GateRun, games: list[GateGame]) -> GateRun:
    score = tally(games)
    wins, losses, ties = score.wins, score.losses, score.ties
    rate, low, high, passed = score.rate, score.low, score.high, score.passes
    with transaction.atomic():
        for game in games:
            game.gate = gate
        GateGame.objects.bulk_create(games)
        gate.games, gate.wins, gate.losses, gate.ties = len(games), wins, losses, ties
        gate.win_rate, gate.low, gate.high = rate, low, high
        verdict = "passed" if passed else "refused"
        detail = f"{verdict}: win rate {rate:.3f}, 95% interval [{low:.3f}, {high:.3f}]"
        gate = _finish(
            gate,
            status=GateRun.Status.PASSED if passed else GateRun.Status.REFUSED,
            detail=detail,
        )
        if passed:
            agent_set_current_adapter(agent=gate.job.agent, version=gate.candidate)
            GateRun.objects.filter(pk=gate.pk).update(promoted=True)
            gate.promoted = True
    return gate


def _finish(gate: GateRun, *, status: str, detail: str) -> GateRun:
    gate.status, gate.detail, gate.finished_at = status, detail, timezone.now()
    gate.save(
        update_fields=[
            *("status", "detail", "finished_at"),
            *("games", "wins", "losses", "ties", "win_rate", "low", "high"),
        ]
    )
    return gate
