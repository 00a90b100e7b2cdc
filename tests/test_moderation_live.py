"""Moderation against real daphne processes: logout in one tab closes the user's socket
in another; and, across two processes sharing one Redis, deletes, bans, logouts and the
rate limit act on every process."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
import websockets

from tests.live import ws_connect
from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import LiveServer

pytestmark = [pytest.mark.e2e]

TIMEOUT = 10


def log_out(base_url: str, cookie: str) -> None:
    """Press the site's log-out button with the session in `cookie` (another tab)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"Cookie": cookie}
    page = opener.open(urllib.request.Request(f"{base_url}/", headers=headers), timeout=10)
    html = page.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token, "the room list has no log-out form"
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode()
    request = urllib.request.Request(
        f"{base_url}/accounts/logout/",
        data=form,
        headers={"Cookie": f"{cookie}; csrftoken={csrf}", "Referer": f"{base_url}/"},
    )
    response = opener.open(request, timeout=10)
    assert "/accounts/login/" in response.geturl(), "logout did not land on the login page"


async def frame(ws, kind: str) -> dict:
    """The next frame of type `kind` (skipping others), within the timeout."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            got = json.loads(await ws.recv())
            if got["type"] == kind:
                return got


async def closed(ws) -> int:
    """Read until the server closes the socket; return the close code."""
    async with asyncio.timeout(TIMEOUT):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            pass
    return ws.close_code


async def refused(server: LiveServer, room: str, cookie: str) -> int:
    with pytest.raises(websockets.InvalidStatus) as err:
        await ws_connect(server, room, cookie)
    return err.value.response.status_code


async def test_logout_in_one_tab_closes_the_socket_of_another(live_env, live_server_factory):
    create_user(live_env, "bob", PASSWORD)
    create_user(live_env, "carl", PASSWORD)
    server = live_server_factory()
    tab_a = login(server.url, "bob", PASSWORD)
    tab_b = login(server.url, "bob", PASSWORD)
    carl = login(server.url, "carl", PASSWORD)
    assert tab_a != tab_b  # two logins, two sessions
    async with (
        await ws_connect(server, "den", tab_a) as a,
        await ws_connect(server, "lobby", tab_a) as a2,
        await ws_connect(server, "den", carl) as c,
    ):
        for ws in (a, a2, c):
            await frame(ws, "welcome")
        await asyncio.to_thread(log_out, server.url, tab_b)
        assert await closed(a) == 4403
        assert await closed(a2) == 4403
        # Others stay: carl still chats.
        await c.send("still here")
        assert (await frame(c, "message"))["message"]["body"] == "still here"
        assert await refused(server, "den", tab_b) == 403  # the logged-out session


@pytest.mark.redis
async def test_moderation_across_two_processes_on_redis(
    live_env, live_server_factory, redis_server
):
    env = {
        **live_env,
        "REDIS_URL": redis_server.url,
        "CHANNEL_LAYER_PREFIX": "modlive",
        "CHAT_RATE_LIMIT_BURST": "4",
        "CHAT_RATE_LIMIT_PER_SECOND": "0.2",
    }
    for name in ("olga", "bob", "carl"):
        create_user(env, name, PASSWORD)
    one, two = live_server_factory(env), live_server_factory(env)
    olga = login(one.url, "olga", PASSWORD)
    bob = login(two.url, "bob", PASSWORD)
    carl = login(one.url, "carl", PASSWORD)
    carl_elsewhere = login(two.url, "carl", PASSWORD)

    o = await ws_connect(one, "den", olga)  # olga creates the room: she owns it
    await frame(o, "welcome")
    b2, b1 = await ws_connect(two, "den", bob), await ws_connect(one, "den", bob)
    c1, c2 = await ws_connect(one, "den", carl), await ws_connect(two, "den", carl_elsewhere)
    everyone = (o, b1, b2, c1, c2)
    try:
        for ws in everyone[1:]:
            await frame(ws, "welcome")

        # bob posts on process 2; olga deletes it on process 1: every socket hears both.
        await b2.send("rude words")
        for ws in everyone:
            assert (await frame(ws, "message"))["message"]["seq"] == 1
        await o.send(json.dumps({"type": "delete", "seq": 1}))
        for ws in everyone:
            assert await frame(ws, "message_deleted") == {"type": "message_deleted", "seq": 1}

        # The rate limit is one bucket per user over both processes: 4 posts, then refused.
        for n, ws in enumerate((b1, b2, b1)):
            await ws.send(json.dumps({"type": "message", "body": f"m{n}", "client_id": f"m{n}"}))
            await frame(ws, "message")
        await b2.send(json.dumps({"type": "message", "body": "too fast", "client_id": "x"}))
        error = await frame(b2, "error")
        assert (error["code"], error["client_id"]) == ("rate_limited", "x")
        assert error["retry_after"] > 0

        # olga bans bob on process 1: his sockets on both processes close within a second.
        await o.send(json.dumps({"type": "ban", "user": "bob", "reason": "spam"}))
        await frame(o, "ok")
        banned_at = time.monotonic()
        assert await closed(b2) == 4403
        assert await closed(b1) == 4403
        assert time.monotonic() - banned_at < 1.0
        assert await refused(two, "den", bob) == 403
        assert await refused(one, "den", bob) == 403

        # carl logs out on process 2 (another tab): his sockets on both processes close.
        await asyncio.to_thread(log_out, two.url, carl_elsewhere)
        assert await closed(c2) == 4403
        assert await closed(c1) == 4403
        await o.send("olga stays")
        bodies = []  # what she has not read yet of bob's posts, then her own
        while not bodies or bodies[-1] != "olga stays":
            bodies.append((await frame(o, "message"))["message"]["body"])
        assert bodies[-1] == "olga stays"
    finally:
        for ws in everyone:
            await ws.close()
