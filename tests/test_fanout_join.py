"""Sockets joining a server process's fan-out: with whatever channel layer the settings
name (in-memory on the embedded default; Redis pub/sub in tests/run.sh's second pass)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.conf import settings

from chat.fanout import Connection, Fanout, messages_event, publish


async def subscribed_channels(pattern: str) -> list[str]:
    """The channels Redis has subscribers for, matching `pattern`."""
    import redis.asyncio

    url = (settings.CHAT_RATE_LIMIT_REDIS_URL or "").split(",")[0]
    client = redis.asyncio.Redis.from_url(url)
    try:
        return sorted(name.decode() for name in await client.pubsub_channels(pattern))
    finally:
        await client.aclose()


@pytest.fixture
def no_refresh(settings):
    """No periodic re-join and catch-up: what the test shows is the join itself."""
    settings.CHAT_FANOUT_REFRESH_SECONDS = 3600


@pytest.mark.django_db(transaction=True)  # the welcomes' database hop (a stand-in reader)
async def test_sockets_that_join_a_fresh_process_at_once_all_get_live_messages(no_refresh):
    """The first sockets of a process join at the same moment (after a restart, clients
    reconnect together). Opening the process's channel waits on the layer (a Redis round
    trip), and every socket must end up subscribed through the one channel that is read,
    live at once, not after the periodic refresh."""
    fan = Fanout(read_welcomes=lambda room, asks: [object()] * len(asks))
    received: dict[int, asyncio.Queue[dict[str, Any]]] = {}

    def connection(user_id: int) -> Connection:
        queue = received[user_id] = asyncio.Queue()

        async def send(frame: dict[str, Any]) -> None:
            await queue.put(frame)

        return Connection("lobby", user_id, send)

    async def welcome(_welcome: object, _shared: object) -> int:
        return 0

    await asyncio.gather(*(fan.join(connection(u), None, None, None, welcome) for u in range(20)))
    try:
        if settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("RedisPubSubChannelLayer"):
            # One channel for the process (not one per racing socket, most never read).
            assert await subscribed_channels(f"{fan.channel.split('specific.')[0]}specific.*") == [
                fan.channel
            ]
        await publish([messages_event("lobby", [(1, "hello")])])
        for user_id, queue in received.items():
            frame = await asyncio.wait_for(queue.get(), timeout=3)
            assert frame == {"type": "websocket.send", "text": "hello"}, user_id
    finally:
        for task in (fan._task, fan._refresher):
            if task is not None:
                task.cancel()
