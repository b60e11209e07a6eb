"""Reads for agents."""

from __future__ import annotations

from dataclasses import replace

from django.db.models import QuerySet

from agents.inference.base import GenerationRequest
from agents.models import AdapterVersion, Agent, BaseModel


def agents_of(*, user) -> QuerySet[Agent]:
    return Agent.objects.filter(owner=user).select_related("base_model", "current_adapter")


def agent_get(*, agent_id: int, user=None) -> Agent | None:
    """The agent, or None when it does not exist or (given a user) is not theirs."""
    qs = Agent.objects.select_related("base_model", "current_adapter", "owner")
    if user is not None and not user.is_staff:
        qs = qs.filter(owner=user)
    return qs.filter(pk=agent_id).first()


def adapter_versions(*, agent: Agent) -> QuerySet[AdapterVersion]:
    return agent.adapter_versions.select_related("parent").order_by("number")


def base_models() -> QuerySet[BaseModel]:
    return BaseModel.objects.order_by("-is_default", "name")


def agent_messages(*, agent: Agent, prompt: str) -> list[dict]:
    """The chat an agent answers: its system prompt (when set), then the task prompt."""
    messages = []
    if agent.system_prompt.strip():
        messages.append({"role": "system", "content": agent.system_prompt})
    messages.append({"role": "user", "content": prompt})
    return messages


def agent_generation_request(
    *, agent: Agent, prompt: str, seed: int, max_new_tokens_cap: int | None = None
) -> GenerationRequest:
    """Everything inference needs to have ``agent`` answer ``prompt``: its messages, current
    adapter, settings (capped by the space's rule when given) and base model."""
    settings = agent.generation_settings()
    if max_new_tokens_cap is not None and settings.max_new_tokens > max_new_tokens_cap:
        settings = replace(settings, max_new_tokens=max(1, max_new_tokens_cap))
    return GenerationRequest(
        messages=agent_messages(agent=agent, prompt=prompt),
        adapter=agent.adapter_ref(),
        settings=settings,
        seed=seed,
        base_model=agent.base_model.path,
    )
