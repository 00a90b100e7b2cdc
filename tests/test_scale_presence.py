"""Presence across two daphne processes on PostgreSQL + Redis, with the shipped TTL: who is
in the room counts every process, typing crosses processes, a user with sockets on both
is online once, and when one process is killed with SIGKILL (its sockets never close), its
users go offline for the others within 60 s (docs/protocol.md, "Presence and typing")."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.live import ws_connect
from tests.scale import cluster_env, start_servers
from tests.support.accounts import PASSWORD, create_users, login

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


async def _next(ws, kind: str, timeout: float = 15, **match) -> dict:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def test_presence_spans_processes_and_survives_a_sigkill(pg_database, redis_server, tmp_path):
    env = cluster_env(pg_database, redis_server.url, f"presence{redis_server.port}")
    env["CHAT_AUTO_CREATE_ROOMS"] = "1"
    env["CHAT_PRESENCE_GRACE_SECONDS"] = "0.2"  # what a closed socket says, in the quiet second
    create_users(env, "alice", "bob", "carol")
    one, two = start_servers(env, tmp_path, 2)
    try:
        alice = await asyncio.to_thread(login, one.url, "alice", PASSWORD)
        bob = await asyncio.to_thread(login, two.url, "bob", PASSWORD)
        carol = await asyncio.to_thread(login, two.url, "carol", PASSWORD)

        a = await ws_connect(one, "life", alice)
        assert (await _next(a, "welcome"))["present"] == ["alice"]
        b = await ws_connect(two, "life", bob)
        assert (await _next(b, "welcome"))["present"] == ["alice", "bob"]  # from process one
        assert await _next(a, "presence", user="bob") == {
            "type": "presence",
            "user": "bob",
            "online": True,
        }

        # Typing crosses processes.
        await b.send(json.dumps({"type": "typing"}))
        assert await _next(a, "typing") == {"type": "typing", "user": "bob"}

        # alice opens a second socket, on process two: still online once; carol arrives.
        a2 = await ws_connect(two, "life", alice)
        await _next(a2, "welcome")
        c = await ws_connect(two, "life", carol)
        assert (await _next(c, "welcome"))["present"] == ["alice", "bob", "carol"]
        await _next(b, "presence", user="carol")
        await a2.close()  # her socket on process one keeps her online: nobody is told
        with pytest.raises(TimeoutError):  # a quiet second, the recounts take 50 ms
            await _next(b, "presence", timeout=1, user="alice")

        # Process one dies without closing anything: alice's last socket there vanishes.
        one.kill()
        started = time.monotonic()
        gone = await _next(b, "presence", timeout=65, user="alice")
        took = time.monotonic() - started
        assert gone["online"] is False
        assert took < 60, took
        print(f"\npresence: alice offline {took:.1f} s after SIGKILL of her process")

        fresh = await ws_connect(two, "life", carol)
        assert (await _next(fresh, "welcome"))["present"] == ["bob", "carol"]
        for ws in (b, c, fresh):
            await ws.close()
    finally:
        for server in (one, two):
            server.stop()
