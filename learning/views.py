"""The learning app's pages: the training section of the agent page (its owner's only), the
buttons in it (train now, promote, roll back), and the public page of a proof record.

The section is an HTML fragment the agent page loads in place (``arena.hooks``), and reloads
on live events (``agent_<id>`` group) or, while a job or gate runs, by polling. Its buttons post
with htmx and get the fragment back with what happened; without JavaScript they post as forms
and come back to the agent page with a message. Every write is one service call.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agents.errors import AgentError
from agents.models import Agent
from learning.serializers import proof_overview, proof_record, training_overview
from learning.services import training_request, version_promote
from ledger.throttling import throttle_post
from spaces.models import Space

SECTION_TEMPLATE = "learning/_training_section.html"


def training_section_url(agent: Agent, user) -> str | None:
    """``arena.hooks`` agent page section: the fragment's URL for the agent's owner only."""
    if user is None or not user.is_authenticated or agent.owner_id != user.pk:
        return None
    return reverse("learning:training", args=[agent.pk])


def _own_agent(request, pk: int) -> Agent:
    """The agent when the signed-in user owns it; a 404 for anyone else (staff included: the
    section spends the owner's credits)."""
    if not request.user.is_authenticated:
        raise Http404("no such agent of yours")
    agent = Agent.objects.select_related("current_adapter").filter(pk=pk, owner=request.user)
    agent = agent.first()
    if agent is None:
        raise Http404("no such agent of yours")
    return agent


def _sentence(exc: Exception) -> str:
    message = str(exc).strip()
    return message if message.endswith((".", "!", "?")) else f"{message}."


def _section(request, agent: Agent, *, notice: str = "", error: str = "", chosen: str = ""):
    overview = training_overview(agent)
    if not chosen and overview.pairs:
        chosen = overview.pairs[0].space
    return render(
        request,
        SECTION_TEMPLATE,
        {"overview": overview, "notice": notice, "error": error, "chosen_space": chosen},
    )


def _answer(request, agent: Agent, *, notice: str = "", error: str = "", chosen: str = ""):
    """htmx: the section again, saying what happened; a plain form post: back to the page."""
    if request.htmx:
        return _section(request, agent, notice=notice, error=error, chosen=chosen)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("arena:agent", pk=agent.pk)


@require_GET
def training_section(request, pk: int):
    return _section(request, _own_agent(request, pk))


@require_POST
@throttle_post("training")
def train_now(request, pk: int):
    agent = _own_agent(request, pk)
    slug = request.POST.get("space", "").strip()
    space = None
    if slug:
        space = Space.objects.filter(slug=slug).first()
        if space is None:
            return _answer(request, agent, error=f"There is no space {slug!r}.", chosen=slug)
    try:
        job = training_request(agent=agent, space=space, requested_by="owner")
    except AgentError as exc:
        return _answer(request, agent, error=f"Not queued: {_sentence(exc)}", chosen=slug)
    paid = f", {job.price} credits held" if job.price else ""
    notice = f"Job #{job.pk} queued on {job.pair_count} pairs{paid}."
    return _answer(request, agent, notice=notice, chosen=slug)


@require_POST
@throttle_post("training")
def promote(request, pk: int, number: int):
    agent = _own_agent(request, pk)
    version = agent.adapter_versions.filter(number=number).first()
    if version is None:
        raise Http404("no such version")
    rolling_back = (
        agent.current_adapter is not None and version.number < agent.current_adapter.number
    )
    try:
        version_promote(agent=agent, version=version)
    except AgentError as exc:
        return _answer(request, agent, error=f"Not changed: {_sentence(exc)}")
    done = "Rolled back to" if rolling_back else "Promoted"
    return _answer(request, agent, notice=f"{done} v{version.number}: it is live now.")


@require_GET
def proof_page(request, seq: int):
    """A proof-of-learning record, what it commits to and whether it verifies; for anyone."""
    record = proof_record(seq)
    if record is None:
        raise Http404("no such proof record")
    return render(request, "learning/proof.html", {"proof": proof_overview(record)})
