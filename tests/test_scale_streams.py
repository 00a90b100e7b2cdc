"""Two daphne processes on one PostgreSQL database and one Redis: the user's stream and the
end of a session reach that user's sockets on every process."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.live import ws_connect
from tests.scale import cluster_env, start_servers
from tests.support.accounts import PASSWORD, create_users, login
from tests.support.processes import manage

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


async def _next(ws, kind: str, timeout: float = 15) -> dict:  # noqa: ASYNC109
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def _closed(ws, timeout: float = 15) -> int:  # noqa: ASYNC109
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code if closed.value.rcvd else 0


async def test_user_stream_and_session_end_reach_every_process(pg_database, redis_server, tmp_path):
    env = cluster_env(pg_database, redis_server.url, f"streams{redis_server.port}")
    create_users(env, "alice", "bob")
    one, two = start_servers(env, tmp_path, 2)
    try:
        cookie = await asyncio.to_thread(login, one.url, "alice", PASSWORD)
        bob = await asyncio.to_thread(login, two.url, "bob", PASSWORD)
        home = await websockets.connect(
            f"ws://127.0.0.1:{two.port}/ws/chat/",
            additional_headers=[("Cookie", cookie)],
            origin=two.url,
        )
        assert (await _next(home, "hello"))["user"] == "alice"
        room_one = await ws_connect(one, "streams", cookie)
        await _next(room_one, "welcome")
        bobs = await ws_connect(two, "streams", bob)
        await _next(bobs, "welcome")

        # A frame for alice, published by a third process (a manage.py shell on Redis).
        manage(
            env,
            "shell",
            "-c",
            "from asgiref.sync import async_to_sync\n"
            "from django.contrib.auth import get_user_model\n"
            "from chat import fanout, protocol\n"
            "u = get_user_model().objects.get(username='alice')\n"
            "text = protocol.encode({'type': 'unread', 'room': 'streams', 'unread': 1})\n"
            "async_to_sync(fanout.publish)([fanout.user_event(u.pk, text)])\n",
        )
        for ws in (home, room_one):
            assert (await _next(ws, "unread"))["unread"] == 1

        # Her session is deleted on the server: her sockets on both processes close.
        key = cookie.split("=", 1)[1]
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.sessions.models import Session\n"
            f"Session.objects.filter(session_key={key!r}).delete()\n",
        )
        assert await _closed(home) == 4403
        assert await _closed(room_one) == 4403
        await bobs.send(json.dumps({"type": "ping"}))  # bob's session is untouched
        await _next(bobs, "pong")
        await bobs.close()
    finally:
        one.stop()
        two.stop()


async def test_a_member_removed_on_one_process_is_cut_off_on_the_other(
    pg_database, redis_server, tmp_path
):
    env = cluster_env(pg_database, redis_server.url, f"private{redis_server.port}")
    create_users(env, "alice", "bob")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "alice = get_user_model().objects.get(username='alice')\n"
        "room = services.create_room(slug='team', user=alice)\n"
        "services.set_private(room=room, actor=alice, private=True)\n"
        "services.invite(room=room, actor=alice, user='bob')\n",
    )
    one, two = start_servers(env, tmp_path, 2)
    try:
        alice = await asyncio.to_thread(login, one.url, "alice", PASSWORD)
        bob = await asyncio.to_thread(login, two.url, "bob", PASSWORD)
        bobs_home = await websockets.connect(
            f"ws://127.0.0.1:{two.port}/ws/chat/",
            additional_headers=[("Cookie", bob)],
            origin=two.url,
        )
        assert "team" in [r["slug"] for r in (await _next(bobs_home, "hello"))["rooms"]]
        bobs = await ws_connect(two, "team", bob)
        await _next(bobs, "welcome")
        owner = await ws_connect(one, "team", alice)
        await _next(owner, "welcome")

        await owner.send(json.dumps({"type": "remove", "user": "bob"}))
        await _next(owner, "ok")
        assert await _closed(bobs) == 4403  # on process two
        listed = await _next(bobs_home, "rooms")
        assert "team" not in [r["slug"] for r in listed["rooms"]]
        with pytest.raises(websockets.InvalidStatus):  # refused, as for a room that is not
            await ws_connect(two, "team", bob)
        await owner.close()
        await bobs_home.close()
    finally:
        for server in (one, two):
            server.stop()
