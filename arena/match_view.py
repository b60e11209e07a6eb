"""A match as its space's creator reads it in the admin: the prompt, each seat's answer, each
judge's verdict in words and numbers, and the money. Built from stored rows only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arena.models import Match
from arena.services.payouts import terms_for
from judges.models import Verdict


@dataclass(frozen=True)
class SeatLine:
    index: int
    agent: str
    owner: str
    text: str
    rank: int | None
    payout: int
    notes: list[str]  # violation, flags, audit


@dataclass(frozen=True)
class VerdictLine:
    title: str
    says: str
    cells: list[tuple[str, str]]  # per seat: (points "1 of 1", score "1")
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MatchReadout:
    prompt: str
    reference: str
    seats: list[SeatLine]
    verdicts: list[VerdictLine]
    money: list[tuple[str, str]]


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _verdict_line(data: dict[str, Any], kind: str, seats: int) -> VerdictLine:
    config = data.get("config") or {}
    weight = config.get("weight", 1)
    shadow = " (shadow: measured, never counts)" if config.get("shadow") else ""
    label = f"{kind} in mode {config['mode']}" if config.get("mode") else kind
    title = f"Judge {data.get('index', 0) + 1}: {label}, weight {weight}{shadow}"
    points = data.get("points") or [0] * seats
    scores = data.get("scores") or [0] * seats
    most = data.get("max_points", 1)
    best = max(scores) if scores else 0
    winners = [f"seat {i + 1}" for i, s in enumerate(scores) if s == best]
    if len(winners) == len(scores):
        says = "no preference: every answer scored the same"
    else:
        says = f"best: {', '.join(winners)} (score {_num(best)})"
    cells = [(f"{_num(p)} of {_num(most)}", _num(s)) for p, s in zip(points, scores, strict=False)]
    facts = []
    details = data.get("details") or {}
    answers = details.get("answers")
    if kind == "verifier" and isinstance(answers, list):
        right = ["right" if a.get("correct") else "wrong" for a in answers]
        facts.append(("right or wrong, by seat", ", ".join(right)))
    if details.get("model"):
        facts.append(("model", str(details["model"])))
    return VerdictLine(title=title, says=says, cells=cells, facts=facts)


def match_readout(match: Match) -> MatchReadout:
    seats = list(match.seats.select_related("agent", "owner").order_by("index"))
    verdicts = Verdict.objects.filter(match=match).order_by("id")
    terms = terms_for(match)
    lines = []
    for seat in seats:
        notes = []
        if seat.violation:
            notes.append(f"broke the rules: {seat.violation}")
        if seat.injection:
            kinds = sorted({str(f.get("kind", "")) for f in seat.injection if isinstance(f, dict)})
            notes.append(f"addressed the judge ({', '.join(kinds) or 'flagged'})")
        if seat.audit_status == "flagged":
            notes.append(f"rollout audit flagged: {seat.audit_detail}")
        lines.append(
            SeatLine(
                index=seat.index + 1,
                agent=str(seat.agent),
                owner=str(seat.owner),
                text=seat.text,
                rank=seat.rank,
                payout=seat.payout,
                notes=notes,
            )
        )
    shares = ", ".join(
        f"place {i} {float(share) * 100:g}%"
        for i, share in enumerate(terms.get("payout_shares", []), 1)
    )
    money = [
        ("entry fees", f"{match.fees} credits"),
        ("sponsor subsidy", f"{match.subsidy} credits"),
        ("pot", f"{match.pot} credits"),
        ("creator rake", f"{match.creator_rake} credits ({terms['creator_rake_bps'] / 100:g}%)"),
        (
            "platform rake",
            f"{match.platform_rake} credits ({terms['platform_rake_bps'] / 100:g}%)",
        ),
        ("payout shares it was formed under", shares or "none"),
        ("paid to players", f"{sum(seat.payout for seat in seats)} credits"),
    ]
    return MatchReadout(
        prompt=match.prompt.text,
        reference=match.prompt.reference,
        seats=lines,
        verdicts=[_verdict_line(v.data or {}, v.judge_kind, len(seats)) for v in verdicts],
        money=money,
    )
