"""Space pages: the list, and a space's page with its rules, leaderboard, queue and matches,
where a player enters an agent."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from arena import hooks, selectors
from arena.services.judge_report import judge_report
from arena.services.payouts import PAYOUT_RULE
from arena.views.forms import EnterForm
from spaces.selectors import spaces_managed_by, spaces_visible_to

REPORT_MATCHES = 500  # the judge report on the page reads this many recent matches


def space_list(request):
    spaces = spaces_visible_to(request.user).prefetch_related("fee_tiers").order_by("slug")
    return render(request, "arena/space_list.html", {"spaces": spaces})


def _space(request, slug: str):
    space = spaces_visible_to(request.user).prefetch_related("fee_tiers").filter(slug=slug).first()
    if space is None:
        raise Http404("no such space")
    return space


def space_detail(request, slug: str):
    space = _space(request, slug)
    queue = selectors.queue_size(space=space)
    context = {
        "space": space,
        "leaderboard": selectors.leaderboard(space=space),
        "matches": selectors.matches_of_space(space=space),
        "payout_rule": PAYOUT_RULE,
        "fee_tiers": [(tier, queue.get(tier.pk, 0)) for tier in space.fee_tiers.all()],
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
