"""Head-to-head games: side A and side B answer the same prompts, the space's panel decides.

The one machinery behind the promotion gate (a new adapter version against its parent) and
practice runs (a draft configuration, another agent, a revision or a fork's parent, for no
money). A side is an agent's configuration (its system prompt and generation settings; for a
draft or a past revision, an unsaved copy of the agent carrying those values) and an adapter
version (None: the base model). Both sides of every game get the same seed, and every answer of
every game comes from ONE batched generate; the panel ranks the two answers exactly as in a
match (shadow judges recorded, never counted). Nothing here writes to the database.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agents.inference import get_backend
from agents.models import AdapterVersion, Agent
from agents.selectors import agent_generation_request
from judges.intervals import wilson_interval
from judges.panel import run_panel
from spaces.answer_rules import shape_answer
from spaces.models import Prompt, Space

A_WINS, TIE, B_WINS = 1, 0, -1


@dataclass(frozen=True)
class Side:
    agent: Agent  # whose prompt and generation settings play (may be an unsaved copy)
    adapter: AdapterVersion | None  # None: the base model alone


@dataclass(frozen=True)
class Game:
    prompt: Prompt
    seed: int
    a_text: str
    b_text: str
    outcome: int  # A_WINS, TIE or B_WINS
    verdicts: list[dict[str, Any]]


@dataclass(frozen=True)
class Tally:
    wins: int  # side A's
    losses: int
    ties: int
    rate: float  # (wins + ties / 2) / games
    low: float  # its 95% Wilson interval
    high: float

    @property
    def passes(self) -> bool:
        return self.low > 0.5


def configured(agent: Agent, config: dict[str, Any]) -> Agent:
    """An unsaved copy of ``agent`` with ``config``'s values set: what a draft or a past
    revision would answer with. Never saved (it keeps the agent's pk)."""
    twin = copy.copy(agent)
    for field, value in config.items():
        setattr(twin, field, value)
    return twin


def _request(side: Side, prompt: Prompt, seed: int, cap: int | None):
    request = agent_generation_request(
        agent=side.agent, prompt=prompt.text, seed=seed, max_new_tokens_cap=cap
    )
    return dataclasses.replace(request, adapter=side.adapter.ref() if side.adapter else None)


def play_head_to_head(
    *,
    space: Space,
    a: Side,
    b: Side,
    prompts: Sequence[Prompt],
    seeds: Sequence[int],
    backend=None,
) -> list[Game]:
    """One game per prompt (with its seed): both answers of every game in one generate call,
    then the space's panel on each pair."""
    if len(prompts) != len(seeds):
        raise ValueError("one seed per prompt")
    cap = space.rule("max_new_tokens_cap")
    requests = []
    for prompt, seed in zip(prompts, seeds, strict=True):
        requests.append(_request(a, prompt, seed, cap))
        requests.append(_request(b, prompt, seed, cap))
    results = (backend or get_backend()).generate(requests)
    games = []
    for n, (prompt, seed) in enumerate(zip(prompts, seeds, strict=True)):
        texts = [shape_answer(space, results[2 * n + k].text) for k in (0, 1)]
        outcome = run_panel(
            panel_config=space.judge_panel,
            prompt_text=prompt.text,
            reference=prompt.reference,
            answers=texts,
            tests=prompt.tests,
            space_id=space.pk,
        )
        first, second = outcome.ranks
        games.append(
            Game(
                prompt=prompt,
                seed=seed,
                a_text=texts[0],
                b_text=texts[1],
                outcome=(second > first) - (first > second),
                verdicts=[dataclasses.asdict(v) for v in outcome.verdicts],
            )
        )
    return games


def tally(outcomes: Sequence[int]) -> Tally:
    """Side A's wins, losses and ties, and its win rate with the 95% Wilson interval."""
    if not outcomes:
        raise ValueError("no games to tally")
    wins = sum(o == A_WINS for o in outcomes)
    losses = sum(o == B_WINS for o in outcomes)
    ties = len(outcomes) - wins - losses
    low, high = wilson_interval(wins + ties / 2, len(outcomes))
    return Tally(wins, losses, ties, (wins + ties / 2) / len(outcomes), low, high)
