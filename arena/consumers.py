"""Websocket consumers: read-only subscriptions to a match's or a space's events, and to an
agent's training events for its owner."""

from __future__ import annotations

import re

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.models import Agent
from arena.realtime import agent_group, match_group, space_group

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,80}$")


class _GroupConsumer(AsyncJsonWebsocketConsumer):
    group_name: str = ""

    def group_for(self, kwargs: dict) -> str | None:
        raise NotImplementedError

    async def connect(self) -> None:
        group = self.group_for(self.scope["url_route"]["kwargs"])
        if group is None:
            await self.close(code=4400, reason="bad group")
            return
        self.group_name = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The stream is server -> browser only; anything a client sends is refused.
        await self.close(code=4405, reason="this socket is read-only")

    async def arena_event(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "payload": message["payload"]})


class MatchConsumer(_GroupConsumer):
    def group_for(self, kwargs: dict) -> str | None:
        return match_group(int(kwargs["match_id"]))


class SpaceConsumer(_GroupConsumer):
    def group_for(self, kwargs: dict) -> str | None:
        slug = kwargs["slug"]
        return space_group(slug) if _SLUG.match(slug) else None


@database_sync_to_async
def _owns(user, agent_id: int) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return Agent.objects.filter(pk=agent_id, owner=user).exists()


class AgentConsumer(_GroupConsumer):
    """An agent's training progress: its owner only (the session's user, from
    ``AuthMiddlewareStack``); anyone else is refused before the handshake completes (403)."""

    async def connect(self) -> None:
        agent_id = int(self.scope["url_route"]["kwargs"]["agent_id"])
        if not await _owns(self.scope.get("user"), agent_id):
            await self.close(code=4403, reason="not your agent")
            return
        await super().connect()

    def group_for(self, kwargs: dict) -> str | None:
        return agent_group(int(kwargs["agent_id"]))
