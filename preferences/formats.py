"""The rows of each export format, and what each field means (the dataset card quotes these).

- ``trl`` / ``parquet`` / ``hf``: TRL's standard preference layout, one row per pair:
  ``prompt``, ``chosen``, ``rejected`` strings (what ``DPOTrainer`` reads).
- ``trl-chat``: TRL's conversational preference layout: ``prompt`` a list of messages (the
  chosen agent's system prompt only with ``--include-system-prompt``, then the task as the user),
  ``chosen`` and ``rejected`` one assistant message each.
- ``kto``: TRL's unpaired preference layout: every pair gives a desirable row (the chosen
  answer, ``label`` true) and an undesirable one (the rejected answer, ``label`` false).
- ``battles``: one row per two seats of a settled match, ties included, in the field layout of
  Chatbot Arena's public battle releases (``lmsys/chatbot_arena_conversations``,
  https://huggingface.co/datasets/lmsys/chatbot_arena_conversations, announced in
  https://lmsys.org/blog/2023-07-20-dataset/): question_id, model_a, model_b, winner
  ("model_a", "model_b", "tie", "tie (bothbad)"), judge, conversation_a, conversation_b (lists
  of {role, content}), turn, anony, language, tstamp.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from typing import Any

from arena.models import Match, Seat
from preferences import scoring
from preferences.models import PreferencePair

FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "trl": [
        ("prompt", "string", "the task the agents answered"),
        ("chosen", "string", "the answer the judge panel scored higher"),
        ("rejected", "string", "the answer it scored lower"),
    ],
    "trl-chat": [
        (
            "prompt",
            "list of {role, content}",
            "the task as a user message (after the chosen "
            "agent's system prompt when exported with it)",
        ),
        ("chosen", "list of {role, content}", "the better answer as one assistant message"),
        ("rejected", "list of {role, content}", "the worse answer as one assistant message"),
    ],
    "kto": [
        ("prompt", "string", "the task the agents answered"),
        ("completion", "string", "one answer"),
        ("label", "bool", "true for the chosen answer of a pair, false for the rejected one"),
    ],
    "battles": [
        ("question_id", "string", "sha256 of the prompt text"),
        ("model_a", "string", "the first agent: name#id@adapter sha256 prefix (or @base)"),
        ("model_b", "string", "the second agent, same form"),
        (
            "winner",
            "string",
            'model_a, model_b, tie, or "tie (bothbad)" (both answers scored '
            "nothing or both broke the space's content limits)",
        ),
        ("judge", "string", "the judge panel: arena-panel: and its judge kinds"),
        ("conversation_a", "list of {role, content}", "the prompt and model_a's answer"),
        ("conversation_b", "list of {role, content}", "the prompt and model_b's answer"),
        ("turn", "int", "always 1 (single-turn matches)"),
        ("anony", "bool", "always true: judges never see which agent wrote an answer"),
        ("language", "string", '"unknown" (not detected)'),
        ("tstamp", "float", "when the match settled, Unix seconds"),
    ],
}
FIELDS["parquet"] = FIELDS["hf"] = FIELDS["trl"]

PROVENANCE_FIELDS = [
    ("pair", "int", "the pair's id in this arena"),
    ("content_sha256", "string", "sha256 of the canonical JSON of `payload`"),
    (
        "payload",
        "object",
        "what the hash covers: match id, prompt text and sha256, for chosen "
        "and rejected the seat, text, agent id, adapter sha256, generation settings and system "
        "prompt, and the ids of the match's verdicts",
    ),
    ("margin", "float", "chosen's weighted normalised panel total minus rejected's, in (0, 1]"),
    (
        "agreement",
        "object",
        "votes for the chosen answer (`agreed`) out of votes cast (`votes`): "
        "one per judge, two for a pairwise judge's two orders",
    ),
    ("deciding_judge_kinds", "list", "kinds of the judges that scored the chosen answer higher"),
    ("settled", "string", "when the match settled (ISO 8601)"),
]


def trl_row(pair: PreferencePair) -> dict[str, Any]:
    return {"prompt": pair.prompt_text, "chosen": pair.chosen_text, "rejected": pair.rejected_text}


def trl_chat_row(pair: PreferencePair, *, include_system_prompt: bool) -> dict[str, Any]:
    prompt = []
    if include_system_prompt and pair.chosen_system_prompt.strip():
        prompt.append({"role": "system", "content": pair.chosen_system_prompt})
    prompt.append({"role": "user", "content": pair.prompt_text})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": pair.chosen_text}],
        "rejected": [{"role": "assistant", "content": pair.rejected_text}],
    }


def kto_rows(pair: PreferencePair) -> list[dict[str, Any]]:
    return [
        {"prompt": pair.prompt_text, "completion": pair.chosen_text, "label": True},
        {"prompt": pair.prompt_text, "completion": pair.rejected_text, "label": False},
    ]


def pair_rows(pair: PreferencePair, fmt: str, *, include_system_prompt: bool) -> list[dict]:
    if fmt == "trl-chat":
        return [trl_chat_row(pair, include_system_prompt=include_system_prompt)]
    if fmt == "kto":
        return kto_rows(pair)
    return [trl_row(pair)]


def provenance_row(pair: PreferencePair, settled) -> dict[str, Any]:
    return {
        "pair": pair.pk,
        "content_sha256": pair.content_sha256,
        "payload": pair.payload(),
        "margin": pair.margin,
        "agreement": {"agreed": pair.agreement_count, "votes": pair.agreement_total},
        "deciding_judge_kinds": pair.deciding_judge_kinds,
        "settled": settled.isoformat() if settled else None,
    }


def agent_label(seat: Seat) -> str:
    adapter = seat.adapter_sha256[:12] if seat.adapter_sha256 else "base"
    return f"{seat.agent.name}#{seat.agent_id}@{adapter}"


def _conversation(match: Match, seat: Seat, include_system_prompt: bool) -> list[dict]:
    messages = []
    if include_system_prompt and seat.agent.system_prompt.strip():
        messages.append({"role": "system", "content": seat.agent.system_prompt})
    messages.append({"role": "user", "content": match.prompt.text})
    messages.append({"role": "assistant", "content": seat.text})
    return messages


def _winner(a: Seat, b: Seat, total_a: Fraction, total_b: Fraction) -> str:
    if a.rank is not None and b.rank is not None and a.rank != b.rank:
        return "model_a" if a.rank < b.rank else "model_b"
    if (a.violation and b.violation) or (total_a == 0 and total_b == 0):
        return "tie (bothbad)"
    return "tie"


def battle_rows(
    match: Match, *, include_system_prompt: bool, agents: tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    """A settled match's battles: every two seats, in seat order (prefetched seats and
    verdicts, ``selectors.export_matches``). The winner is the official outcome (the seats'
    ranks, content-limit violations ranked last)."""
    seats = list(match.seats.all())
    verdicts = sorted(
        ((v.pk, v.judge_kind, v.data) for v in match.verdicts.all()),
        key=lambda v: ((v[2] or {}).get("index", 0), v[0]),
    )
    try:
        judges = scoring.judge_scores(verdicts, len(seats))
    except scoring.VerdictShapeError:
        return []
    totals = scoring.totals(judges, len(seats))
    judge = "arena-panel:" + "+".join(j.kind for j in judges)
    tstamp = match.finished_at.timestamp() if match.finished_at else None
    rows = []
    for i, j in combinations(range(len(seats)), 2):
        a, b = seats[i], seats[j]
        if agents and a.agent_id not in agents and b.agent_id not in agents:
            continue
        rows.append(
            {
                "question_id": match.prompt.text_sha256,
                "model_a": agent_label(a),
                "model_b": agent_label(b),
                "winner": _winner(a, b, totals[i], totals[j]),
                "judge": judge,
                "conversation_a": _conversation(match, a, include_system_prompt),
                "conversation_b": _conversation(match, b, include_system_prompt),
                "turn": 1,
                "anony": True,
                "language": "unknown",
                "tstamp": tstamp,
            }
        )
    return rows
