"""Reads of practice runs, in words: what each side is, each game's answers and verdicts, and
side A's win rate with its interval (the run page, its live fragment and the API share them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.models import Agent, AgentRevision
from learning.models import PracticeGame, PracticeRun
from learning.practice import token_of
from spaces.models import Prompt, Space

RECENT = 5  # runs listed in the agent page's practice panel


@dataclass(frozen=True)
class GameView:
    game: PracticeGame
    prompt: str
    result: str  # "the draft won", "a tie", ...
    verdicts: list[str]


@dataclass(frozen=True)
class RunView:
    run: PracticeRun
    a_label: str
    b_label: str
    final: bool
    progress: str
    summary: str  # the win rate and its interval in words ("" until done)
    judgement: str  # "better", "worse" or "undecided" ("" until done)
    bar: dict[str, int] = field(default_factory=dict)  # percentages: low, rate, high, width
    games: list[GameView] = field(default_factory=list)
    can_apply: bool = False


def side_label(run: PracticeRun, side: str) -> str:
    """``a`` or ``b`` in words: "the draft", "scout (live, r3)", "scout r2"."""
    if side == "a" and run.kind == PracticeRun.Kind.DRAFT:
        return "the draft"
    agent: Agent = getattr(run, f"{side}_agent")
    revision: AgentRevision | None = getattr(run, f"{side}_revision")
    if getattr(run, f"{side}_live"):
        return f"{agent.name} (live, r{revision.number})" if revision else f"{agent.name} (live)"
    return f"{agent.name} r{revision.number}" if revision else agent.name


def _p(x: float) -> str:
    return f"{x:.2f}"


def verdict_words(verdict: dict[str, Any], a: str, b: str) -> str:
    """One judge's verdict on one game as a sentence, from what ``run_panel`` stores."""
    kind = verdict.get("judge_kind", "judge")
    name = f"judge {verdict.get('index', 0) + 1} ({kind})"
    scores = verdict.get("scores") or [0, 0]
    if scores[0] > scores[1]:
        says = f"preferred {a}"
    elif scores[1] > scores[0]:
        says = f"preferred {b}"
    else:
        says = "called it a tie"
    how = f"scores {_p(scores[0])} for {a}, {_p(scores[1])} for {b}"
    details = verdict.get("details") or {}
    pairs = details.get("pairs") or []
    if kind == "pairwise-llm" and pairs and "p_ab" in pairs[0]:
        pair = pairs[0]
        how = (
            f"probability {_p(pair['p_ab'][0])} for {a} when shown first, "
            f"margin {pair['margin']:+.2f} nats"
        )
    elif kind == "verifier":
        checks = details.get("answers") or []
        if len(checks) == 2:
            right = ["right" if c.get("correct") else "wrong" for c in checks]
            how = f"{a} {right[0]}, {b} {right[1]}"
    shadow = (
        " (a shadow judge: recorded, not counted)"
        if verdict.get("config", {}).get("shadow")
        else ""
    )
    return f"{name.capitalize()} {says}: {how}{shadow}."


def _result(outcome: int, a: str, b: str) -> str:
    if outcome == PracticeGame.Outcome.A:
        return f"{a} won"
    if outcome == PracticeGame.Outcome.B:
        return f"{b} won"
    return "a tie"


def _summary(run: PracticeRun, a: str) -> tuple[str, str]:
    if run.win_rate is None:
        return "", ""
    if run.low > 0.5:
        judgement, words = "better", f"{a} is better"
    elif run.high < 0.5:
        judgement, words = "worse", f"{a} is worse"
    else:
        judgement, words = "undecided", "not distinguishable yet (the interval contains 0.50)"
    record = f"{run.wins} won, {run.losses} lost, {run.ties} tied of {run.games}"
    text = (
        f"{a.capitalize()}: {record}; win rate {_p(run.win_rate)}, 95% interval "
        f"{_p(run.low)} to {_p(run.high)}: {words}."
    )
    return text, judgement


def run_overview(run: PracticeRun) -> RunView:
    run = PracticeRun.objects.select_related(
        *("agent", "space", "a_agent", "b_agent", "a_revision", "b_revision"),
        *("a_adapter", "b_adapter", "applied_revision"),
    ).get(pk=run.pk)
    a, b = side_label(run, "a"), side_label(run, "b")
    final = run.status in PracticeRun.FINAL
    games = []
    for game in run.game_rows.select_related("prompt"):
        games.append(
            GameView(
                game=game,
                prompt=game.prompt.text,
                result=_result(game.outcome, a, b),
                verdicts=[verdict_words(v, a, b) for v in game.verdicts],
            )
        )
    progress = {
        PracticeRun.Status.QUEUED: f"Queued: {run.k} games wait for a worker.",
        PracticeRun.Status.RUNNING: f"Playing {run.k} games: both sides answer, then the judges.",
        PracticeRun.Status.DONE: f"Done: {run.games} games played.",
        PracticeRun.Status.ERROR: run.detail,
    }[run.status]
    summary, judgement = _summary(run, a)
    bar = {}
    if run.win_rate is not None:
        low, rate, high = (round(100 * x) for x in (run.low, run.win_rate, run.high))
        bar = {"low": low, "rate": rate, "high": high, "width": max(high - low, 1)}
    return RunView(
        run=run,
        a_label=a,
        b_label=b,
        final=final,
        progress=progress,
        summary=summary,
        judgement=judgement,
        bar=bar,
        games=games,
        can_apply=(
            run.kind == PracticeRun.Kind.DRAFT
            and run.status == PracticeRun.Status.DONE
            and run.applied_revision_id is None
        ),
    )


def recent_runs(agent: Agent) -> list[RunView]:
    runs = PracticeRun.objects.filter(agent=agent).order_by("-created_at", "-id")[:RECENT]
    return [run_overview(r) for r in runs]


def side_choices(owner) -> list[tuple[str, str]]:
    """(token, words) of every side the owner may pick: each agent's live configuration, then
    each of its revisions."""
    choices = []
    agents = Agent.objects.filter(owner=owner).order_by("name", "pk")
    for agent in agents:
        choices.append((token_of(agent), f"{agent.name} (live)"))
    revisions = AgentRevision.objects.filter(agent__owner=owner).select_related("agent")
    for revision in revisions.order_by("agent__name", "agent_id", "-number"):
        choices.append((token_of(revision), f"{revision.agent.name} r{revision.number}"))
    return choices


def practice_spaces() -> list[Space]:
    """Spaces with training prompts that are not closed, by title."""
    with_prompts = Prompt.objects.filter(split=Prompt.Split.TRAIN).values("space_id")
    spaces = Space.objects.exclude(status=Space.Status.CLOSED).filter(pk__in=with_prompts)
    return list(spaces.order_by("title", "pk"))
