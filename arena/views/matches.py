"""The match page. It opens a websocket to /ws/matches/<id>/ and re-fetches its body fragment
on every event (static/js/match_live.js), so it follows the match while it runs."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from arena import selectors
from spaces.selectors import spaces_visible_to


def _match(request, pk: int):
    match = selectors.match_detail(match_id=pk)
    if match is None or not spaces_visible_to(request.user).filter(pk=match.space_id).exists():
        raise Http404("no such match")
    return match


def _context(request, match) -> dict:
    seats = list(match.seats.all())
    return {
        "match": match,
        "seats": seats,
        "ranked": sorted(seats, key=lambda s: (s.rank is None, s.rank or 0, s.index)),
        "verdicts": selectors.verdicts_for(match, request.user),
        "prompt_visible": selectors.prompt_is_visible(match),
        "timings": match.timings(),
    }


def match_detail(request, pk: int):
    return render(request, "arena/match_detail.html", _context(request, _match(request, pk)))


def match_fragment(request, pk: int):
    return render(request, "arena/_match_body.html", _context(request, _match(request, pk)))
