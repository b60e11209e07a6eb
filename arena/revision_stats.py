"""How each configuration revision of an agent did, per space, and its rating over time.

Read-only. Counted from settled matches only (a cancelled or failed match refunded every fee
and ranked nobody). A seat counts for the revision it was rolled out with (``Seat.revision``);
seats from before revisions were recorded count as "unrecorded" (``revision`` None).

**Wins.** A seat wins when it ranks 1. A shared first place is split: each of the k seats ranked
1 counts 1/k of a win (in a two-seat match a tie is half a win, as in the promotion gate), so
the win rate of a whole space still adds up to one win per match. The win rate's 95% interval
is Wilson's (``judges.intervals``), which takes fractional wins.

**Average rank.** The mean of the seat's ranks with a 95% Student-t interval; lower is better.

**Money.** Fees paid are the entries' fees (``Entry.fee``), prizes the seats' payouts; net is
prizes minus fees. Subsidies and rakes are inside the payouts already.

**Rating over time.** There is no stored rating history, so the trajectory is replayed: every
settled match of the space, in the order they settled, through the same openskill model the
settlement uses (``judges.ratings.rating_model``), with the seats in the settlement's order.
The replay ends where the stored ``Rating`` is, as long as every rating update came from a
settlement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agents.models import Agent, AgentRevision
from arena.models import Match, Seat
from judges.intervals import mean_interval, wilson_interval
from judges.models import DEFAULT_MU, DEFAULT_SIGMA
from judges.ratings import rating_model
from spaces.models import Space

BAND_Z = 2.0  # the chart's band: mu ± 2 sigma, about a 95% interval of the skill


@dataclass
class RevisionStats:
    """One revision's record in one space."""

    revision: AgentRevision | None  # None: seats from before revisions were recorded
    matches: int = 0
    wins: float = 0.0
    ranks: list[int] = field(default_factory=list)
    fees: int = 0
    prizes: int = 0

    @property
    def number(self) -> int | None:
        return self.revision.number if self.revision is not None else None

    @property
    def label(self) -> str:
        return f"r{self.revision.number}" if self.revision is not None else "unrecorded"

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.matches if self.matches else None

    @property
    def win_interval(self) -> tuple[float, float]:
        return wilson_interval(self.wins, self.matches)

    @property
    def rank_interval(self) -> tuple[float | None, float | None, float | None]:
        """(mean rank, low, high); the interval is None with fewer than two matches."""
        return mean_interval(self.ranks)

    @property
    def net(self) -> int:
        return self.prizes - self.fees

    @property
    def win_text(self) -> str:
        """ "62% [48%, 74%]": the win rate with its 95% interval, as the page shows it."""
        if not self.matches:
            return "–"
        low, high = self.win_interval
        return f"{self.win_rate:.0%} [{low:.0%}, {high:.0%}]"

    @property
    def rank_text(self) -> str:
        """ "1.4 [1.1, 1.7]": the average rank with its 95% interval (none from one match)."""
        mean, low, high = self.rank_interval
        if mean is None:
            return "–"
        if low is None:
            return f"{mean:.2f}"
        return f"{mean:.2f} [{low:.2f}, {high:.2f}]"

    def as_dict(self) -> dict:
        low, high = self.win_interval
        mean, rank_low, rank_high = self.rank_interval
        return {
            "revision": self.number,
            "matches": self.matches,
            "wins": self.wins,
            "win_rate": self.win_rate,
            "win_rate_low": low if self.matches else None,
            "win_rate_high": high if self.matches else None,
            "average_rank": mean,
            "average_rank_low": rank_low,
            "average_rank_high": rank_high,
            "fees_paid": self.fees,
            "prizes_won": self.prizes,
            "net_credits": self.net,
        }


@dataclass(frozen=True)
class Comparison:
    """The latest revision that played in a space against the one that played before it."""

    latest: RevisionStats
    previous: RevisionStats
    outcome: str  # "better" | "worse" | "undecided"

    @property
    def sentence(self) -> str:
        a, b = self.latest.label, self.previous.label
        if self.outcome == "better":
            return f"{a} beat {b}: its win rate's 95% interval lies above {b}'s."
        if self.outcome == "worse":
            return f"{a} did worse than {b}: its win rate's 95% interval lies below {b}'s."
        return f"{a} against {b}: their win rates' 95% intervals overlap; more matches will tell."


@dataclass
class SpaceRecord:
    """An agent's record in one space: per revision (oldest first) and the comparison."""

    space: Space
    revisions: list[RevisionStats]

    @property
    def comparison(self) -> Comparison | None:
        played = [r for r in self.revisions if r.revision is not None and r.matches]
        if len(played) < 2:
            return None
        latest, previous = played[-1], played[-2]
        low, high = latest.win_interval
        prev_low, prev_high = previous.win_interval
        if low > prev_high:
            outcome = "better"
        elif high < prev_low:
            outcome = "worse"
        else:
            outcome = "undecided"
        return Comparison(latest=latest, previous=previous, outcome=outcome)


def _win_shares(seats) -> dict[int, float]:
    """seat id -> its share of the match's win (see the module's note on ties)."""
    by_match: dict[int, list] = defaultdict(list)
    for seat in seats:
        by_match[seat["match_id"]].append(seat)
    shares = {}
    for match_seats in by_match.values():
        first = [s for s in match_seats if s["rank"] == 1]
        for seat in match_seats:
            shares[seat["id"]] = 1 / len(first) if seat["rank"] == 1 else 0.0
    return shares


def revision_records(agent: Agent) -> list[SpaceRecord]:
    """The agent's record per space it has settled matches in (spaces by title), each with a
    row per revision that played there (oldest first; unrecorded seats first of all)."""
    own = list(
        Seat.objects.filter(agent=agent, match__status=Match.Status.SETTLED)
        .select_related("match__space", "entry", "revision")
        .order_by("match__finished_at", "match_id")
    )
    if not own:
        return []
    # The other seats of the same matches, for how many shared a first place.
    match_ids = {seat.match_id for seat in own}
    all_seats = Seat.objects.filter(match_id__in=match_ids).values("id", "match_id", "rank")
    shares = _win_shares(all_seats)

    per_space: dict[int, dict[int | None, RevisionStats]] = defaultdict(dict)
    spaces: dict[int, Space] = {}
    for seat in own:
        space = seat.match.space
        spaces[space.pk] = space
        row = per_space[space.pk].setdefault(seat.revision_id, RevisionStats(seat.revision))
        row.matches += 1
        row.wins += shares.get(seat.pk, 0.0)
        if seat.rank is not None:
            row.ranks.append(seat.rank)
        row.fees += seat.entry.fee
        row.prizes += seat.payout
    records = []
    for space_id, rows in per_space.items():
        ordered = sorted(rows.values(), key=lambda r: -1 if r.number is None else r.number)
        records.append(SpaceRecord(space=spaces[space_id], revisions=ordered))
    return sorted(records, key=lambda r: (r.space.title, r.space.pk))


@dataclass(frozen=True)
class RatingPoint:
    match_id: int
    finished_at: str  # ISO 8601
    revision: int | None
    mu: float
    sigma: float

    def as_dict(self) -> dict:
        return {
            "match": self.match_id,
            "at": self.finished_at,
            "revision": self.revision,
            "mu": round(self.mu, 4),
            "sigma": round(self.sigma, 4),
            "low": round(self.mu - BAND_Z * self.sigma, 4),
            "high": round(self.mu + BAND_Z * self.sigma, 4),
        }


def rating_history(agent: Agent, space: Space) -> list[RatingPoint]:
    """The agent's rating in the space after each of its settled matches there, replayed (see
    the module's note)."""
    rows = (
        Seat.objects.filter(match__space=space, match__status=Match.Status.SETTLED)
        .exclude(rank=None)
        .order_by("match__finished_at", "match_id", "rank", "index")
        .values_list("match_id", "agent_id", "rank", "revision__number", "match__finished_at")
    )
    model = rating_model()
    ratings: dict[int, tuple[float, float]] = {}
    points: list[RatingPoint] = []

    def flush(match_id, seats, finished_at) -> None:
        # Like the settlement: the seats in rank order, ties keep their ranks.
        if len(seats) < 2:
            return
        teams = [[model.rating(*ratings.get(s[0], (DEFAULT_MU, DEFAULT_SIGMA)))] for s in seats]
        rated = model.rate(teams, ranks=[s[1] for s in seats])
        for (agent_id, _rank, revision), [new] in zip(seats, rated, strict=True):
            ratings[agent_id] = (new.mu, new.sigma)
            if agent_id == agent.pk:
                stamp = finished_at.isoformat() if finished_at else ""
                points.append(RatingPoint(match_id, stamp, revision, new.mu, new.sigma))

    current, seats, finished = None, [], None
    for match_id, agent_id, rank, revision, finished_at in rows:
        if match_id != current:
            if current is not None:
                flush(current, seats, finished)
            current, seats, finished = match_id, [], finished_at
        seats.append((agent_id, rank, revision))
    if current is not None:
        flush(current, seats, finished)
    return points


def chart_data(agent: Agent, records: list[SpaceRecord]) -> list[dict]:
    """Per space the agent played in: its rating after each match (mu and the ±2 sigma band)
    and where a new revision first played, as the agent page's chart reads it (json_script)."""
    charts = []
    for record in records:
        points = [p.as_dict() for p in rating_history(agent, record.space)]
        boundaries = []
        previous = object()
        for index, point in enumerate(points):
            if point["revision"] != previous:
                label = f"r{point['revision']}" if point["revision"] else "unrecorded"
                boundaries.append({"index": index, "label": label})
                previous = point["revision"]
        charts.append(
            {
                "space": record.space.title,
                "slug": record.space.slug,
                "points": points,
                "boundaries": boundaries,
            }
        )
    return charts
