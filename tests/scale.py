"""Helpers for the scale-out proofs: several daphne processes on one PostgreSQL database and
one Redis, and `websockets` clients that record what they are sent."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.live import ws_connect
from tests.support.accounts import PASSWORD, login
from tests.support.processes import LiveServer, base_env


def cluster_env(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return base_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=prefix,
        # Short, so a test sees the periodic catch-up within its timeouts.
        CHAT_FANOUT_REFRESH_SECONDS="1",
        CHAT_RATE_LIMIT_PER_SECOND="0",  # these tests post as fast as they can, on purpose
        **extra,
    )


def start_servers(env: dict[str, str], tmp_path: Path, count: int) -> list[LiveServer]:
    return [LiveServer(env, tmp_path / f"daphne-{i}.log").start() for i in range(count)]


def stored_seqs(database_url: str, room: str) -> list[int]:
    """The room's seqs as PostgreSQL has them, read directly (not through the site)."""
    parts = urllib.parse.urlsplit(database_url)
    with psycopg.connect(database_url.replace(parts.scheme, "postgresql", 1)) as conn:
        rows = conn.execute(
            "SELECT m.seq FROM chat_message m JOIN chat_room r ON r.id = m.room_id "
            "WHERE r.slug = %s ORDER BY m.seq",
            (room,),
        ).fetchall()
    return [seq for (seq,) in rows]


@dataclass
class Client:
    """A logged-in socket that records every message frame's seq and body, in arrival
    order, from its welcome on."""

    server: LiveServer
    room: str
    cookie: str
    seqs: list[int] = field(default_factory=list)
    bodies: dict[int, str] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)
    ws: Any = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(
        cls, server: LiveServer, room: str, user: str, since: int | None = None
    ) -> Client:
        cookie = await asyncio.to_thread(login, server.url, user, PASSWORD)
        client = cls(server, room, cookie)
        await client.connect(since)
        return client

    async def connect(self, since: int | None = None) -> None:
        self.ws = await ws_connect(self.server, self.room, self.cookie, since=since)
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert welcome["type"] == "welcome", welcome
        for message in welcome["messages"]:
            self._record(message)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    def _record(self, message: dict[str, Any]) -> None:
        self.seqs.append(message["seq"])
        self.bodies[message["seq"]] = message["body"]
        self._changed.set()

    async def _read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            self.frames.append(frame)
            if frame["type"] == "message":
                self._record(frame["message"])

    async def post(self, body: str, client_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "message", "body": body}
        if client_id:
            frame["client_id"] = client_id
        await self.ws.send(json.dumps(frame))

    async def wait_seq(self, seq: int, timeout: float = 60) -> None:  # noqa: ASYNC109
        """Wait until this client has been sent seq `seq` (or fail after `timeout`)."""

        async def reached() -> None:
            while not self.seqs or max(self.seqs) < seq:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"client on :{self.server.port} reached seq {max(self.seqs, default=0)}, "
                f"not {seq}, within {timeout}s; errors: "
                f"{[f for f in self.frames if f['type'] == 'error'][:3]}"
            ) from None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
