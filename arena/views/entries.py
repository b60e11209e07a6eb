"""Entering a space and leaving its queue from the web pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from arena import selectors
from arena.services.entries import entry_create, entry_leave
from arena.services.errors import ArenaError
from arena.views.forms import EnterForm
from arena.views.spaces import _space
from ledger.throttling import throttle_post


@login_required
@require_POST
@throttle_post("entry")
def enter(request, slug: str):
    space = _space(request, slug)
    form = EnterForm(request.POST, user=request.user, space=space)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("arena:space", slug=space.slug)
    try:
        entry, _ = entry_create(
            agent=form.cleaned_data["agent"],
            space=space,
            fee_tier=form.cleaned_data["fee_tier"],
            key=form.cleaned_data["key"],
            user=request.user,
        )
    except ArenaError as exc:
        messages.error(request, str(exc))
        return redirect("arena:space", slug=space.slug)
    if entry.match_id:
        messages.success(request, f"{entry.agent.name} entered and was matched at once.")
        return redirect("arena:match", pk=entry.match_id)
    messages.success(
        request, f"{entry.agent.name} is waiting for a match ({entry.fee} credits held)."
    )
    return redirect("arena:space", slug=space.slug)


@login_required
@require_POST
def leave(request, pk: int):
    entry = get_object_or_404(selectors.entries_of(user=request.user), pk=pk)
    try:
        entry_leave(entry=entry, user=request.user)
    except ArenaError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{entry.agent.name} left the queue; {entry.fee} credits returned."
        )
    return redirect("arena:space", slug=entry.space.slug)
