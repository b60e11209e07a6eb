"""Reads for pages and the API: matches with their seats, queues, leaderboards."""

from __future__ import annotations

from django.db.models import Count, F, FilteredRelation, Prefetch, Q, QuerySet, Sum

from arena.models import Entry, Match, Seat
from judges.models import Rating, ordinal_expression
from judges.redaction import public_verdict_data
from ledger import services as ledger
from spaces.models import Space


def match_for_step(match_id: int) -> Match:
    """A match as the step services work on it: with its space, creator, prompt and tier."""
    return Match.objects.select_related("space", "space__creator", "prompt", "fee_tier").get(
        pk=match_id
    )


def match_seats(match: Match) -> list[Seat]:
    """A match's seats in seat order, with their agents (and live adapters), owners, entries."""
    return list(
        match.seats.select_related("agent", "agent__current_adapter", "owner", "entry").order_by(
            "index"
        )
    )


def match_detail(*, match_id: int) -> Match | None:
    """A match with everything its page shows: prompt, seats (answers, ranks, payouts),
    verdicts."""
    return (
        Match.objects.select_related("space", "fee_tier", "prompt")
        .prefetch_related(
            Prefetch(
                "seats", queryset=Seat.objects.select_related("agent", "owner").order_by("index")
            ),
            "verdicts",
        )
        .filter(pk=match_id)
        .first()
    )


def sees_answer_output(match: Match, user) -> bool:
    """Whether ``user`` may read text that answer code produced in this match's verdicts (see
    ``judges.redaction``): its participants, its space's creator and staff."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or match.space.creator_id == user.pk:
        return True
    return any(seat.owner_id == user.pk for seat in match.seats.all())


def verdicts_for(match: Match, user) -> list[dict]:
    """The match's verdicts as ``user`` may see them."""
    privileged = sees_answer_output(match, user)
    return [
        {
            "judge_kind": v.judge_kind,
            "data": v.data if privileged else public_verdict_data(v.data),
        }
        for v in match.verdicts.all()
    ]


def match_ratings(match: Match) -> dict[int, Rating]:
    """The current rating in the match's space of each of its agents, by agent id."""
    agent_ids = [seat.agent_id for seat in match.seats.all()]
    return {
        r.agent_id: r
        for r in Rating.objects.filter(space_id=match.space_id, agent_id__in=agent_ids)
    }


def prompt_is_visible(match: Match) -> bool:
    """Held-out prompts stay private (they evaluate adapters); train prompts are public."""
    return match.prompt.split == "train"


def matches_of_space(*, space: Space, limit: int = 20) -> QuerySet[Match]:
    return Match.objects.filter(space=space).select_related("fee_tier").order_by("-created")[:limit]


def entries_of(*, user, space: Space | None = None) -> QuerySet[Entry]:
    qs = Entry.objects.filter(owner=user).select_related("agent", "space", "fee_tier", "match")
    return qs.filter(space=space) if space is not None else qs


def queue_size(*, space: Space) -> dict[int, int]:
    """Waiting entries per fee tier id."""
    rows = (
        Entry.objects.filter(space=space, status=Entry.Status.QUEUED)
        .values("fee_tier_id")
        .annotate(n=Count("id"))
    )
    return {row["fee_tier_id"]: row["n"] for row in rows}


def leaderboard(*, space: Space, limit: int = 50) -> list[dict]:
    """The space's best ``limit`` agents, sorted and cut by the database, with matches played and
    credits won. When the space has standings (``judges.standings``): by their rank by interval,
    then strength, with strength, 95% interval, rank and win rate; agents not in the fit yet
    follow. Without: by rating (openskill ordinal), those keys None."""
    ratings = list(
        Rating.objects.filter(space=space)
        .annotate(
            score=ordinal_expression(),
            standing=FilteredRelation(
                "agent__standings", condition=Q(agent__standings__space=F("space"))
            ),
            strength=F("standing__strength"),
            lower=F("standing__lower"),
            upper=F("standing__upper"),
            interval_rank=F("standing__rank"),
            win_rate=F("standing__win_rate"),
        )
        .select_related("agent", "agent__owner")
        .order_by(
            F("interval_rank").asc(nulls_last=True),
            F("strength").desc(nulls_last=True),
            "-score",
            "agent_id",
        )[: max(int(limit), 0)]
    )
    winnings = dict(
        Seat.objects.filter(
            match__space=space,
            match__status=Match.Status.SETTLED,
            agent_id__in=[r.agent_id for r in ratings],
        )
        .values("agent_id")
        .annotate(total=Sum("payout"))
        .values_list("agent_id", "total")
    )
    return [
        {
            "place": place,
            "agent_id": r.agent_id,
            "agent": r.agent.name,
            "owner": r.agent.owner.username,
            "mu": round(r.mu, 3),
            "sigma": round(r.sigma, 3),
            "ordinal": round(r.score, 3),
            "matches": r.matches_played,
            "winnings": winnings.get(r.agent_id, 0) or 0,
            "strength": _rounded(r.strength),
            "lower": _rounded(r.lower),
            "upper": _rounded(r.upper),
            "rank": r.interval_rank,
            "win_rate": _rounded(r.win_rate),
        }
        for place, r in enumerate(ratings, start=1)
    ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def space_in_play(space: Space) -> list[str]:
    """What players entered under the space's current economics and is not finished yet
    (registered with spaces.hooks: while there is any, its creator cannot change them)."""
    waiting = Entry.objects.filter(space=space, status=Entry.Status.QUEUED).count()
    running = Match.objects.filter(space=space).exclude(status__in=Match.FINAL).count()
    lines = []
    if waiting:
        lines.append(f"{waiting} {'entry' if waiting == 1 else 'entries'} waiting")
    if running:
        lines.append(f"{running} {'match' if running == 1 else 'matches'} in progress")
    return lines


def space_activity(space: Space) -> list[tuple[str, str]]:
    """Lines for the creator's admin page of a space (registered with spaces.hooks)."""
    counts = Match.objects.filter(space=space).aggregate(
        settled=Count("id", filter=Q(status=Match.Status.SETTLED)),
        failed=Count("id", filter=Q(status__in=[Match.Status.FAILED, Match.Status.CANCELLED])),
        running=Count("id", filter=~Q(status__in=Match.FINAL)),
        creator_rake=Sum("creator_rake"),
    )
    waiting = Entry.objects.filter(space=space, status=Entry.Status.QUEUED).count()
    lines = [
        ("entries waiting", str(waiting)),
        ("matches running", str(counts["running"])),
        ("matches settled", str(counts["settled"])),
        ("matches failed or cancelled", str(counts["failed"])),
        ("creator revenue from this space", f"{counts['creator_rake'] or 0} credits"),
    ]
    try:
        total = ledger.balance(ledger.creator_revenue_account(space.creator))
        lines.append(("creator revenue account balance (all spaces)", f"{total} credits"))
    except Exception:  # noqa: BLE001 - an admin summary must render even if the ledger is down
        pass
    return lines
