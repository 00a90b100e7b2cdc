"""End to end against a real daphne process: HTTP login, `websockets` clients, server logs."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
import websockets

from tests import stack
from tests.conftest import ROOM_LIFE
from tests.live import ws_connect
from tests.proxy import TcpProxy
from tests.stack import pg_address
from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import LiveServer, base_env, manage

pytestmark = [pytest.mark.e2e]


async def recv(ws, kind: str | None = None) -> dict:
    """The next frame (of type `kind`), past room life's (presence, typing, unread, rooms:
    tests/test_roomlife.py tests those) unless one of them is asked for."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if frame["type"] not in ROOM_LIFE or frame["type"] == kind:
            break
    if kind is not None:
        assert frame["type"] == kind, frame
    return frame


def wait_for_log(server: LiveServer, text: str, timeout: float = 10) -> str:
    """The server's log once it contains `text` (daphne writes it from another process)."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log()
        if text in log:
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the server log:\n{log[-3000:]}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One daphne for this module (each test uses its own room): starting one costs seconds.
    On the production-stack pass (DATABASE_URL is PostgreSQL) it runs on a PostgreSQL
    database of its own and on Redis, as live_env does."""
    tmp = tmp_path_factory.mktemp("e2e")
    extra = {"CHAT_RATE_LIMIT_PER_SECOND": "0"}
    pg_name = None
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        stack.require_postgres()
        pg_name = stack.unique_name("e2e")
        stack.create_database(pg_name)
        extra.update(DATABASE_URL=stack.pg_url(pg_name), CHANNEL_LAYER_PREFIX=pg_name)
        if os.environ.get("REDIS_URL"):
            extra["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        extra["DATABASE_URL"] = f"sqlite:///{tmp / 'live.sqlite3'}"
    env = base_env(**extra)
    live = None
    try:
        manage(env, "migrate", "--noinput")
        create_user(env, "alice", PASSWORD)
        create_user(env, "bob", PASSWORD)
        live = LiveServer(env, tmp / "daphne.log").start()
        yield live
    finally:
        if live is not None:
            live.stop()
        if pg_name is not None:
            stack.drop_database(pg_name)


async def test_two_users_chat_both_ways(server):
    alice = login(server.url, "alice", PASSWORD)
    bob = login(server.url, "bob", PASSWORD)
    async with (
        await ws_connect(server, "Lobby", alice) as a,
        await ws_connect(server, "lobby", bob) as b,
    ):
        welcome = await recv(a, "welcome")
        assert (welcome["room"]["slug"], welcome["room"]["title"]) == ("lobby", "Lobby")
        assert welcome["user"] == "alice"
        assert (await recv(b, "welcome"))["user"] == "bob"
        await a.send(json.dumps({"type": "message", "body": "hi bob", "client_id": "a-1"}))
        for ws in (a, b):
            msg = (await recv(ws, "message"))["message"]
            assert (msg["seq"], msg["user"], msg["body"]) == (1, "alice", "hi bob")
        await b.send(json.dumps({"type": "message", "body": "hi alice"}))
        for ws in (a, b):
            msg = (await recv(ws, "message"))["message"]
            assert (msg["seq"], msg["user"], msg["body"]) == (2, "bob", "hi alice")
        await a.send(json.dumps({"type": "history", "before": 3}))
        history = await recv(a, "history")
        assert [m["body"] for m in history["messages"]] == ["hi bob", "hi alice"]
        await b.send(json.dumps({"type": "ping"}))
        assert await recv(b, "pong") == {"type": "pong", "last_seq": 2}
    # A reconnect sees the history.
    async with await ws_connect(server, "lobby", bob, since=1) as b:
        welcome = await recv(b, "welcome")
        assert [m["body"] for m in welcome["messages"]] == ["hi alice"]


async def test_seed_snippet_plain_text_in_welcome_and_message_out(server):
    """The seed's browser snippet: ws.send('Hello, world!') on open, log every frame."""
    cookie = login(server.url, "alice", PASSWORD)
    async with await ws_connect(server, "seed", cookie) as ws:
        await ws.send("Hello, world!")  # at once, as `onopen` does, before reading anything
        welcome = await recv(ws, "welcome")
        message = await recv(ws, "message")
    assert welcome["room"]["slug"] == "seed" and welcome["messages"] == []
    assert message["message"]["body"] == "Hello, world!"
    assert message["message"]["user"] == "alice"


async def test_server_logs_connect_post_and_disconnect_without_bodies(server):
    cookie = login(server.url, "alice", PASSWORD)
    async with await ws_connect(server, "logged", cookie) as ws:
        await recv(ws, "welcome")
        wait_for_log(server, "connect room=logged user=alice")
        await ws.send("a secret body")
        await recv(ws, "message")
        wait_for_log(server, "post room=logged user=alice seq=1")
    log = wait_for_log(server, "disconnect room=logged user=alice")
    assert "a secret body" not in log  # bodies only at DEBUG


@pytest.mark.parametrize("origin", ["http://evil.example", None])
async def test_foreign_or_missing_origin_gets_http_403(server, origin):
    cookie = login(server.url, "alice", PASSWORD)
    kwargs = {"origin": origin} if origin else {}
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            server.ws_url("lobby"), additional_headers=[("Cookie", cookie)], **kwargs
        )
    assert refused.value.response.status_code == 403


async def test_anonymous_and_bad_slug_get_http_403(server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws_url("lobby"), origin=server.url)
    assert refused.value.response.status_code == 403
    cookie = login(server.url, "alice", PASSWORD)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_connect(server, "not.a.slug", cookie)
    assert refused.value.response.status_code == 403


async def test_binary_and_oversized_frames_get_errors_and_the_connection_stays(server):
    cookie = login(server.url, "alice", PASSWORD)
    async with await ws_connect(server, "frames", cookie) as ws:
        await recv(ws, "welcome")
        await ws.send(b"\x00binary")
        assert (await recv(ws, "error"))["code"] == "bad_request"
        await ws.send("x" * (65 * 1024))
        assert (await recv(ws, "error"))["code"] == "too_long"
        await ws.send("still connected")
        assert (await recv(ws, "message"))["message"]["body"] == "still connected"


async def test_frame_past_daphnes_limit_ends_the_connection(server):
    """Past Daphne's own 1 MiB limit the connection ends. (Autobahn under Daphne drops the
    TCP connection instead of sending close code 1009; docs/protocol.md says so.)"""
    cookie = login(server.url, "alice", PASSWORD)
    async with await ws_connect(server, "huge", cookie) as ws:
        await recv(ws, "welcome")
        await ws.send("x" * (1024 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
    async with await ws_connect(server, "huge", cookie) as ws:
        assert (await recv(ws, "welcome"))["last_seq"] == 0  # nothing stored; reconnect works


@pytest.mark.postgres
async def test_unavailable_while_postgres_is_cut_then_the_retry_stores_once(pg_database, tmp_path):
    """Issue 3, server side, on the production database: PostgreSQL goes away (a TCP proxy
    in between is cut; the shared server itself is never touched). A post gets `error`
    `unavailable` with its client_id and the socket stays; once the database is back the
    retry with the same client_id is stored exactly once."""
    host, port = pg_address()
    proxy = TcpProxy(host, port).start()
    try:
        direct = base_env(DATABASE_URL=pg_database)
        create_user(direct, "alice", PASSWORD)
        create_user(direct, "bob", PASSWORD)
        env = base_env(
            DATABASE_URL=pg_database.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}"),
            DATABASE_POOL_TIMEOUT="1",
            DATABASE_CONNECT_TIMEOUT="2",
        )
        server = LiveServer(env, tmp_path / "daphne.log").start()
        try:
            await _post_through_an_outage(server, proxy)
            assert server.proc.poll() is None, "the server process must not have restarted"
        finally:
            server.stop()
    finally:
        proxy.stop()
    code = (
        "from chat.models import Message;"
        "print(list(Message.objects.values_list('seq', 'body', 'client_id')))"
    )
    assert manage(direct, "shell", "-c", code).splitlines()[-1] == "[(1, 'important', 'c-1')]"


async def _post_through_an_outage(server: LiveServer, proxy: TcpProxy) -> None:
    alice = login(server.url, "alice", PASSWORD)
    bob = login(server.url, "bob", PASSWORD)
    post = json.dumps({"type": "message", "body": "important", "client_id": "c-1"})
    async with (
        await ws_connect(server, "lobby", alice) as a,
        await ws_connect(server, "lobby", bob) as b,
    ):
        await recv(a, "welcome")
        await recv(b, "welcome")
        await asyncio.to_thread(proxy.cut)
        await a.send(post)
        error = await recv(a, "error")
        assert error["code"] == "unavailable" and error["client_id"] == "c-1"
        await a.send(json.dumps({"type": "ping"}))
        assert (await recv(a, "pong"))["type"] == "pong"  # the socket is still served
        await asyncio.to_thread(proxy.restore)
        deadline = time.monotonic() + 30
        while True:  # the client's retry loop: same client_id until it is acknowledged
            await a.send(post)
            frame = await recv(a)
            if frame["type"] == "message":
                break
            assert frame["code"] == "unavailable", frame
            assert time.monotonic() < deadline, "the database did not come back"
            await asyncio.sleep(0.5)
        assert (frame["message"]["seq"], frame["message"]["client_id"]) == (1, "c-1")
        assert (await recv(b, "message"))["message"]["seq"] == 1
        await a.send(post)  # a resend after the ack: answered to alice only
        assert (await recv(a, "message"))["message"]["seq"] == 1
        await b.send(json.dumps({"type": "ping"}))
        assert await recv(b, "pong") == {"type": "pong", "last_seq": 1}
