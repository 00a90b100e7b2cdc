"""Rooms are created on purpose: a first migrate makes `lobby`, the handshake and the page
of an unknown room create nothing (with CHAT_AUTO_CREATE_ROOMS off, the default)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.live import ws_connect
from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import manage

pytestmark = [pytest.mark.e2e]


async def test_the_tutorials_client_chats_in_lobby_on_a_new_site(live_env, live_server_factory):
    """The seed's client, `new WebSocket('ws://HOST/ws/chat/lobby/')` and
    `ws.send('Hello, world!')`, on a site fresh from migrate, rooms made on purpose only."""
    env = {**live_env, "CHAT_AUTO_CREATE_ROOMS": "0"}
    create_user(env, "newcomer", PASSWORD)
    server = live_server_factory(env)
    cookie = login(server.url, "newcomer", PASSWORD)
    async with await ws_connect(server, "lobby", cookie) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert welcome["type"] == "welcome"
        assert (welcome["room"]["slug"], welcome["room"]["title"]) == ("lobby", "Lobby")
        await ws.send("Hello, world!")
        echo = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert echo["type"] == "message" and echo["message"]["body"] == "Hello, world!"

    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_connect(server, "desing-reveiw", cookie)
    assert refused.value.response.status_code == 403
    rooms = manage(
        env,
        "shell",
        "-c",
        "from chat.models import Room; print(sorted(Room.objects.values_list('slug', flat=True)))",
    )
    assert rooms.strip().splitlines()[-1] == "['lobby']"  # the mistyped URL made nothing
