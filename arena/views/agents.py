"""A player's agents: list, create, edit, fork. Every write goes through agents.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods, require_POST

from agents.errors import AgentError, AgentValidationError
from agents.selectors import adapter_versions, agent_get, agents_of
from agents.services import agent_create, agent_fork, agent_update
from arena import hooks
from arena.models import Seat
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


def _render_detail(request, agent, fork_form: ForkForm):
    seats = (
        Seat.objects.filter(agent=agent)
        .select_related("match", "match__space")
        .order_by("-match__created")[:30]
    )
    return render(
        request,
        "arena/agent_detail.html",
        {
            "agent": agent,
            "versions": adapter_versions(agent=agent),
            "seats": seats,
            "fork_form": fork_form,
            # sections of apps above arena (training, versions, gates): fragment URLs
            "sections": hooks.agent_page_sections(agent, request.user),
        },
    )


@login_required
def agent_detail(request, pk: int):
    agent = _own_agent(request, pk)
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
                agent=agent, by=request.user, name=form.cleaned_data["name"], **form.settings()
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
