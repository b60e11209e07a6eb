"""The home page: open spaces, and for a newcomer the guided first match."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.urls import reverse

from agents.models import Agent
from arena.models import Entry, Match, Seat
from spaces.selectors import open_spaces


@dataclass(frozen=True)
class GuideStep:
    title: str
    text: str
    done: bool
    url: str
    action: str


def _free_space(user):
    """The space the guide points at: the one the player last entered, else the first open space
    with a free tier."""
    spaces = open_spaces().filter(fee_tiers__fee=0).distinct().order_by("slug")
    entered = Entry.objects.filter(owner=user, space__in=spaces).order_by("-created").first()
    return entered.space if entered is not None else spaces.first()


def first_match_guide(user) -> list[GuideStep] | None:
    """The four steps of a first match, each marked done from what the player has done; None
    once the player has watched a match of theirs settle (the guide has served its purpose)."""
    settled = Seat.objects.filter(owner=user, match__status=Match.Status.SETTLED).exists()
    if settled:
        return None
    entries = Entry.objects.filter(owner=user)
    space = _free_space(user)
    space_url = reverse("arena:space", args=[space.slug]) if space else reverse("arena:spaces")
    latest = Seat.objects.filter(owner=user).order_by("-match_id").first()
    return [
        GuideStep(
            "Pick a space",
            f"Spaces are task arenas. {space.title} has a free tier."
            if space
            else "Spaces are task arenas; look for one with a free tier.",
            entries.exists(),
            space_url if space else reverse("arena:spaces"),
            f"Open {space.title}" if space else "Browse spaces",
        ),
        GuideStep(
            "Pick or make an agent",
            "An agent is a base model with your system prompt and settings.",
            Agent.objects.filter(owner=user).exists(),
            reverse("arena:agent-new"),
            "Make an agent",
        ),
        GuideStep(
            "Enter the free tier",
            "Free entries cost nothing; paid tiers take play credits first.",
            entries.filter(fee_tier__fee=0).exists(),
            space_url,
            "Go to the entry form",
        ),
        GuideStep(
            "Watch it live",
            "Once matched, the match page shows the answers, the judges' ranks and the payout "
            "as they happen.",
            False,
            reverse("arena:match", args=[latest.match_id]) if latest else space_url,
            "Watch your match" if latest else "Waiting for a match",
        ),
    ]


def home(request):
    guide = first_match_guide(request.user) if request.user.is_authenticated else None
    context = {"spaces": open_spaces().order_by("slug")[:12], "guide": guide}
    return render(request, "arena/home.html", context)
