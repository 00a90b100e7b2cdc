"""End to end against a real daphne process: HTTP login, `websockets` clients, server logs."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from tests.live import LiveServer, base_env, create_user, login, manage, ws_connect

pytestmark = [pytest.mark.e2e]

PASSWORD = "pw-for-tests-123"


async def recv(ws, kind: str | None = None) -> dict:
    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
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
    """One daphne for this module (each test uses its own room): starting one costs seconds."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = base_env(DATABASE_URL=f"sqlite:///{tmp / 'live.sqlite3'}", CHAT_RATE_LIMIT_PER_SECOND="0")
    manage(env, "migrate", "--noinput")
    create_user(env, "alice", PASSWORD)
    create_user(env, "bob", PASSWORD)
    live = LiveServer(env, tmp / "daphne.log").start()
    yield live
    live.stop()


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
