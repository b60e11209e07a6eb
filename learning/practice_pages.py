"""The practice pages (owner only; anyone else gets a 404): the draft form of an agent, the
compare form, a run's page with its live fragment (htmx polls it every 2 s until the run is
final), "Apply this draft", and the small practice panel of the agent page (``arena.hooks``).
Every write is one service call of ``learning.practice``."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.models import Agent
from learning.errors import PracticeError
from learning.models import PracticeRun
from learning.practice import practice_apply, practice_request, side_from_token
from learning.practice_forms import CompareForm, DraftForm
from learning.practice_selectors import recent_runs, run_overview
from ledger.throttling import throttle_post


def practice_section_url(agent: Agent, user) -> str | None:
    """``arena.hooks`` agent page section: the practice panel, for the agent's owner only."""
    if user is None or not user.is_authenticated or agent.owner_id != user.pk:
        return None
    return reverse("learning:practice-panel", args=[agent.pk])


def _own_agent(request, pk: int) -> Agent:
    if request.user.is_authenticated:
        agent = Agent.objects.filter(pk=pk, owner=request.user).first()
        if agent is not None:
            return agent
    raise Http404("no such agent of yours")


def _own_run(request, pk: int) -> PracticeRun:
    if request.user.is_authenticated:
        run = PracticeRun.objects.filter(pk=pk, owner=request.user).first()
        if run is not None:
            return run
    raise Http404("no such practice run of yours")


@require_GET
def practice_panel(request, pk: int):
    agent = _own_agent(request, pk)
    return render(
        request, "learning/_practice_panel.html", {"agent": agent, "runs": recent_runs(agent)}
    )


@require_http_methods(["GET", "POST"])
@throttle_post("practice")
def practice_page(request, pk: int):
    agent = _own_agent(request, pk)
    form = DraftForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        try:
            baseline = side_from_token(owner=request.user, token=form.cleaned_data["baseline"])
            run = practice_request(
                owner=request.user,
                agent=agent,
                space=form.chosen_space(),
                k=form.cleaned_data["k"],
                draft=form.draft(),
                baseline=baseline,
            )
        except PracticeError as exc:
            form.show(exc)
        else:
            return redirect("learning:practice-run", pk=run.pk)
    fee = settings.ARENA_PRACTICE_FEE
    return render(request, "learning/practice.html", {"agent": agent, "form": form, "fee": fee})


@require_http_methods(["GET", "POST"])
@throttle_post("practice")
def compare_page(request):
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    data = request.POST if request.method == "POST" else None
    form = CompareForm(data, owner=request.user, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            a = side_from_token(owner=request.user, token=form.cleaned_data["a"], what="side A")
            b = side_from_token(owner=request.user, token=form.cleaned_data["b"], what="side B")
            run = practice_request(
                owner=request.user,
                agent=a,
                space=form.chosen_space(),
                k=form.cleaned_data["k"],
                baseline=b,
            )
        except PracticeError as exc:
            form.show(exc)
        else:
            return redirect("learning:practice-run", pk=run.pk)
    return render(request, "learning/practice_compare.html", {"form": form})


@require_GET
def run_page(request, pk: int):
    view = run_overview(_own_run(request, pk))
    return render(request, "learning/practice_run.html", {"view": view})


@require_GET
def run_fragment(request, pk: int):
    view = run_overview(_own_run(request, pk))
    return render(request, "learning/_practice_run.html", {"view": view})


@require_POST
@throttle_post("practice")
def run_apply(request, pk: int):
    run = _own_run(request, pk)
    try:
        agent = practice_apply(run=run, by=request.user)
    except PracticeError as exc:
        messages.error(request, f"Not applied: {exc}")
        return redirect("learning:practice-run", pk=run.pk)
    latest = agent.revisions.order_by("-number").first()
    messages.success(request, f"Applied: the draft is {agent.name}'s live r{latest.number} now.")
    return redirect("arena:agent", pk=agent.pk)
