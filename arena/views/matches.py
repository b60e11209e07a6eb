"""The match page. It opens a websocket to /ws/matches/<id>/: on every state change it re-fetches
its body fragment, and while the match rolls out it writes each seat's answer so far into that
seat's column as it streams in (static/js/match_live.js). Once judged, the body tells the match
in sentences (``arena.match_story``)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from arena import selectors
from arena.match_story import match_story
from spaces.selectors import spaces_visible_to


def _match(request, pk: int):
    match = selectors.match_detail(match_id=pk)
    if match is None or not spaces_visible_to(request.user).filter(pk=match.space_id).exists():
        raise Http404("no such match")
    return match


def _token_limit(seat, cap) -> int:
    """The most tokens this seat's answer may have: what it ran with, or (before its rollout)
    its agent's setting capped by the space, as ``build_requests`` computes it."""
    stored = (seat.generation_settings or {}).get("max_new_tokens")
    if isinstance(stored, int):
        return stored
    limit = seat.agent.max_new_tokens
    return min(limit, cap) if cap else limit


def _context(request, match) -> dict:
    seats = list(match.seats.all())
    cap = match.space.rule("max_new_tokens_cap")
    verdicts = selectors.verdicts_for(match, request.user)
    settled = match.status == match.Status.SETTLED
    return {
        "match": match,
        "seats": seats,
        "columns": [(seat, _token_limit(seat, cap)) for seat in seats],
        "streaming": match.status in (match.Status.FORMED, match.Status.ROLLING_OUT),
        "story": match_story(
            match, verdicts, ratings=selectors.match_ratings(match) if settled else None
        ),
        "prompt_visible": selectors.prompt_is_visible(match),
        "timings": match.timings(),
    }


def match_detail(request, pk: int):
    return render(request, "arena/match_detail.html", _context(request, _match(request, pk)))


def match_fragment(request, pk: int):
    return render(request, "arena/_match_body.html", _context(request, _match(request, pk)))
