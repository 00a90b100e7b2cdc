"""Who is in a room now, across server processes, and the typing brake.

Presence is ephemeral: never a message, never in the database. Each process counts its own
sockets per room and user (chat.fanout) and tells the store only when a user's first
socket in a room opens or their last one closes; the store answers "who is here" for all
processes together.

- Embedded default (no Redis): one process, so the store is this process's memory.
- With Redis: a sorted set per room, `<prefix><room>`, holding `username NUL process`
  scored by when that entry expires. Each process renews its entries every TTL/3 and reads
  only unexpired ones, so a process that dies without closing its sockets drops out of
  everyone's list within CHAT_PRESENCE_TTL_SECONDS (+ one renewal) — under 60 s with the
  default 30 — and a user with sockets on two processes is present once.

Hand-written: presence libraries for Django are built on the database or the cache API,
and neither gives a TTL per member of a set nor an atomic read of the unexpired ones.

Typing: at most one broadcast per user and room per CHAT_TYPING_INTERVAL_SECONDS (default
1), shared by every process through Redis (SET NX PX), else in memory.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Iterable
from typing import Any

from django.conf import settings


def ttl() -> float:
    return float(getattr(settings, "CHAT_PRESENCE_TTL_SECONDS", 30))


class TypingBrake:
    """This process's own brake: {(room, user id): when the last broadcast went}."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, int], float] = {}

    def allows(self, room: str, user_id: int) -> bool:
        now, key = time.monotonic(), (room, user_id)
        if now - self.last.get(key, -1e9) < _typing_interval():
            return False
        self.last[key] = now
        if len(self.last) > 10_000:  # forget the brakes that have run out
            self.last = {k: t for k, t in self.last.items() if now - t < 60}
        return True


class MemoryPresence:
    """One process's rooms: {room: usernames}. The fan-out adds a user once, when their
    first socket in the room opens, and removes them when the last one has closed."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}
        self.brake = TypingBrake()

    async def add(self, room: str, username: str) -> None:
        self.rooms.setdefault(room, set()).add(username)

    async def remove(self, room: str, username: str) -> None:
        here = self.rooms.get(room)
        if here is None:
            return
        here.discard(username)
        if not here:
            del self.rooms[room]

    async def members(self, room: str) -> set[str]:
        return set(self.rooms.get(room, ()))

    async def renew(self, entries: dict[str, Iterable[str]]) -> None:
        return  # nothing expires in one process's memory

    async def may_type(self, room: str, user_id: int) -> bool:
        return self.brake.allows(room, user_id)


class RedisPresence:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.prefix = prefix
        self.process = secrets.token_hex(8)  # tells this process's entries from the others'
        self.brake = TypingBrake()  # a flood stops here, before it costs Redis a command

    def _key(self, room: str) -> str:
        return self.prefix + room

    def _member(self, username: str) -> bytes:
        return f"{username}\0{self.process}".encode()

    async def add(self, room: str, username: str) -> None:
        key, expiry = self._key(room), time.time() + ttl()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self._member(username): expiry})
            pipe.expire(key, int(ttl() * 2) + 1)  # a room nobody renews goes away
            await pipe.execute()

    async def remove(self, room: str, username: str) -> None:
        await self.client.zrem(self._key(room), self._member(username))

    async def members(self, room: str) -> set[str]:
        rows = await self.client.zrangebyscore(self._key(room), time.time(), "+inf")
        return {row.split(b"\0", 1)[0].decode() for row in rows}

    async def renew(self, entries: dict[str, Iterable[str]]) -> None:
        """Extend this process's entries (its local users per room) and drop the expired
        entries of those rooms (a dead process's)."""
        if not entries:
            return
        now = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            for room, usernames in entries.items():
                key = self._key(room)
                pipe.zremrangebyscore(key, "-inf", now)
                mapping = {self._member(name): now + ttl() for name in usernames}
                if mapping:
                    pipe.zadd(key, mapping)
                pipe.expire(key, int(ttl() * 2) + 1)
            await pipe.execute()

    async def may_type(self, room: str, user_id: int) -> bool:
        if not self.brake.allows(room, user_id):
            return False
        key = f"{self.prefix}typing:{room}:{user_id}"
        interval_ms = max(1, int(_typing_interval() * 1000))
        return bool(await self.client.set(key, b"1", nx=True, px=interval_ms))


def _typing_interval() -> float:
    return float(getattr(settings, "CHAT_TYPING_INTERVAL_SECONDS", 1.0))


Store = MemoryPresence | RedisPresence

# One store per event loop: redis-py's asyncio connections belong to the loop that opened
# them (one loop per server process; tests get a fresh one with each loop).
_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def get_store() -> Store:
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        url = getattr(settings, "CHAT_PRESENCE_REDIS_URL", "")
        prefix = getattr(settings, "CHAT_PRESENCE_KEY_PREFIX", "chat:presence:")
        store = RedisPresence(url, prefix) if url else MemoryPresence()
        _stores[loop] = store
    return store
