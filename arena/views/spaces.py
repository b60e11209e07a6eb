"""Space pages: the list, and a space's page with its rules, the public change log of its
economics, its leaderboard (all tiers, or one: ``?tier=<id>``), queue and matches, where a
player enters an agent."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import render

from arena import hooks, selectors
from arena.services.judge_report import judge_report
from arena.services.payouts import PAYOUT_RULE
from arena.services.standings import tier_leaderboard
from arena.views.forms import EnterForm
from spaces.models import FeeTier
from spaces.selectors import (
    change_log,
    percent_of_bps,
    percent_of_share,
    place_name,
    spaces_managed_by,
    spaces_visible_to,
)

# Retired tiers (removed by an economics change) keep their history but are not offered.
LIVE_TIERS = Prefetch("fee_tiers", queryset=FeeTier.objects.filter(retired_at__isnull=True))

REPORT_MATCHES = 500  # the judge report on the page reads this many recent matches


def space_list(request):
    spaces = spaces_visible_to(request.user).prefetch_related(LIVE_TIERS).order_by("slug")
    return render(request, "arena/space_list.html", {"spaces": spaces})


def _space(request, slug: str):
    space = spaces_visible_to(request.user).prefetch_related(LIVE_TIERS).filter(slug=slug).first()
    if space is None:
        raise Http404("no such space")
    return space


def rank_labels(rows: list[dict]) -> list[dict]:
    """Each row with ``rank_label``: its rank by interval, or (not in the standings yet) its
    competition rank by openskill ordinal after the ranked rows; a rank shared with another row
    is a tie and reads "=3"."""
    keys, ordinal_rank, previous = [], 0, None
    ranked = sum(row["rank"] is not None for row in rows)
    for index, row in enumerate(rows):
        if row["rank"] is not None:
            keys.append(("interval", row["rank"]))
            continue
        if row["ordinal"] != previous:
            ordinal_rank, previous = index + 1, row["ordinal"]
        keys.append(("ordinal", max(ordinal_rank, ranked + 1)))
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return [
        {**row, "rank_label": f"={key[1]}" if counts[key] > 1 else str(key[1])}
        for row, key in zip(rows, keys, strict=True)
    ]


def _tier_filter(request, tiers: list[FeeTier]) -> tuple[FeeTier | None, str]:
    """The fee tier chosen with ``?tier=<id>`` (None: all tiers), and an error in words."""
    wanted = request.GET.get("tier", "")
    if not wanted:
        return None, ""
    for tier in tiers:
        if str(tier.pk) == wanted:
            return tier, ""
    return None, "Fee tier: choose one of this space's fee tiers; showing all tiers."


def _terms(space) -> dict:
    """The space's economics as shown: percentages, places in words."""
    return {
        "shares": [
            (place_name(place), percent_of_share(share))
            for place, share in enumerate(space.payout_shares, start=1)
        ],
        "creator_rake": percent_of_bps(space.creator_rake_bps),
        "platform_rake": percent_of_bps(space.platform_rake_bps),
    }


def space_detail(request, slug: str):
    space = _space(request, slug)
    queue = selectors.queue_size(space=space)
    tiers = list(space.fee_tiers.all())
    tier, tier_error = _tier_filter(request, tiers)
    board = (
        tier_leaderboard(space=space, fee_tier=tier)
        if tier is not None
        else selectors.leaderboard(space=space)
    )
    context = {
        "space": space,
        "terms": _terms(space),
        "leaderboard": rank_labels(board),
        "tier_filter": tier,
        "tier_error": tier_error,
        "changes": change_log(space=space),
        "matches": selectors.matches_of_space(space=space),
        "payout_rule": PAYOUT_RULE,
        "fee_tiers": [(t, queue.get(t.pk, 0)) for t in tiers],
    }
    if request.user.is_authenticated:
        context["enter_form"] = EnterForm(user=request.user, space=space)
        context["my_entries"] = selectors.entries_of(user=request.user, space=space)[:20]
        if spaces_managed_by(request.user).filter(pk=space.pk).exists():
            # The creator's view: how the judges behave, and the data the matches made.
            context["judge_report"] = judge_report(space=space, limit=REPORT_MATCHES)
            context["manager_links"] = hooks.space_manager_links(space)
    return render(request, "arena/space_detail.html", context)


def space_matches_fragment(request, slug: str):
    """The recent-matches table alone: the page re-fetches it on each live event."""
    space = _space(request, slug)
    return render(
        request,
        "arena/_space_matches.html",
        {"space": space, "matches": selectors.matches_of_space(space=space)},
    )
