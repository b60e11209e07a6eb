"""Websocket consumers: read-only subscriptions to a match's or a space's events."""

from __future__ import annotations

import re

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from arena.realtime import match_group, space_group

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
