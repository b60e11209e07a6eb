"""Agents: a player's list, create, edit, fork, and every agent's public page. Every write goes
through agents.services.

The agent page is public (anyone, signed in or not, sees an agent's record: its matches, ratings
and per-revision stats); its system prompt only when the owner shares it
(``Agent.prompt_visible_to``); its controls (edit, fork, the training section) only for the
owner."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods, require_POST

from agents import revisions
from agents.errors import AgentError, AgentValidationError
from agents.selectors import adapter_versions, agent_get, agents_of
from agents.services import agent_create, agent_fork, agent_update
from arena import hooks
from arena.models import Seat
from arena.revision_stats import chart_data, revision_records
from arena.views.forms import AgentForm, ForkForm


def _own_agent(request, pk: int):
    agent = agent_get(agent_id=pk, user=request.user)
    if agent is None:
        raise Http404("no such agent of yours")
    return agent


def _form_errors(form, exc: AgentError) -> None:
    """A service's refusal as form errors, once each: on the field when the form has it, else
    for the form as a whole, naming the field in words (never "__all__" or "name:")."""
    if not isinstance(exc, AgentValidationError):
        form.add_error(None, str(exc))
        return
    for field, errors in exc.errors.items():
        for error in errors:
            if field in form.fields:
                form.add_error(field, error)
            elif field == NON_FIELD_ERRORS:
                form.add_error(None, error)
            else:
                form.add_error(None, f"{capfirst(field.replace('_', ' '))}: {error}")


@login_required
def agent_list(request):
    return render(request, "arena/agent_list.html", {"agents": agents_of(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def agent_new(request):
    form = AgentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agent = agent_create(
                owner=request.user, name=form.cleaned_data["name"], **form.settings()
            )
        except AgentError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Agent {agent.name} created with a fresh adapter.")
            return redirect("arena:agent", pk=agent.pk)
    return render(request, "arena/agent_form.html", {"form": form, "title": "New agent"})


def _is_owner(request, agent) -> bool:
    return request.user.is_authenticated and request.user.pk == agent.owner_id


def _compare(request, agent, *, show_prompt: bool) -> dict:
    """The "compare any two revisions" part of the page (``?from=<n>&to=<m>``): the diff, or an
    error naming what was asked for."""
    asked_from, asked_to = request.GET.get("from"), request.GET.get("to")
    if asked_from is None and asked_to is None:
        return {}
    older = revisions.revision_numbered(agent, asked_from)
    newer = revisions.revision_numbered(agent, asked_to)
    if older is None or newer is None:
        missing = asked_from if older is None else asked_to
        return {"error": f"This agent has no revision “{missing or ''}” to compare."}
    return {
        "older": older,
        "newer": newer,
        "changes": revisions.diff(older, newer, show_prompt=show_prompt),
    }


def _render_detail(request, agent, fork_form: ForkForm | None):
    is_owner = _is_owner(request, agent)
    show_prompt = agent.prompt_visible_to(request.user)
    seats = (
        Seat.objects.filter(agent=agent)
        .select_related("match", "match__space", "revision")
        .order_by("-match__created")[:30]
    )
    records = revision_records(agent)
    history = revisions.history(agent, show_prompt=show_prompt)
    return render(
        request,
        "arena/agent_detail.html",
        {
            "agent": agent,
            "is_owner": is_owner,
            "show_prompt": show_prompt,
            "versions": adapter_versions(agent=agent),
            "seats": seats,
            "fork_form": fork_form if is_owner else None,
            "records": records,
            "charts": chart_data(agent, records),
            "history": history,
            "revision_numbers": [row["revision"].number for row in history],
            "compare": _compare(request, agent, show_prompt=show_prompt),
            # sections of apps above arena (training, versions, gates): fragment URLs. They act
            # for the owner (spend their credits), so nobody else gets them, whatever a
            # provider would answer.
            "sections": hooks.agent_page_sections(agent, request.user) if is_owner else [],
        },
    )


def agent_detail(request, pk: int):
    """Any agent's page, for anyone (see the module's note on what others see)."""
    agent = agent_get(agent_id=pk)
    if agent is None:
        raise Http404("no such agent")
    return _render_detail(request, agent, ForkForm(initial={"name": f"{agent.name}-fork"}))


@login_required
@require_http_methods(["GET", "POST"])
def agent_edit(request, pk: int):
    agent = _own_agent(request, pk)
    form = AgentForm(request.POST or None, instance=agent)
    if request.method == "POST" and form.is_valid():
        agent.refresh_from_db()  # the form wrote onto the instance; the service re-reads
        try:
            agent_update(
                agent=agent,
                by=request.user,
                name=form.cleaned_data["name"],
                note=form.cleaned_data["note"],
                **form.settings(),
            )
        except AgentError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Agent saved.")
            return redirect("arena:agent", pk=agent.pk)
    return render(
        request,
        "arena/agent_form.html",
        {"form": form, "title": f"Edit {agent.name}", "agent": agent},
    )


@login_required
@require_POST
def agent_fork_view(request, pk: int):
    agent = _own_agent(request, pk)
    form = ForkForm(request.POST)
    if form.is_valid():
        try:
            fork = agent_fork(agent=agent, owner=request.user, name=form.cleaned_data["name"])
        except AgentError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Forked {agent.name} as {fork.name}.")
            return redirect("arena:agent", pk=fork.pk)
    # The agent's page again, its fork form showing what was typed and what is wrong with it.
    return _render_detail(request, agent, form)
