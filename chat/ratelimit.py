"""Per-user message rate limit: a token bucket (a burst, then a steady rate).

Hand-written because Django's rate-limit packages are built for sync views and the cache
API; here the check runs in an async consumer on every post and, with REDIS_URL set, must be
shared by every server process. With Redis the bucket lives in one hash per user, updated by
an atomic Lua script on the server's clock (so processes with skewed clocks agree);
without Redis it lives in this process's memory.

Settings: CHAT_RATE_LIMIT_BURST (default 10), CHAT_RATE_LIMIT_PER_SECOND (default 1; 0
turns the limit off), CHAT_RATE_LIMIT_REDIS_URL (the first REDIS_URL; empty: memory),
CHAT_RATE_LIMIT_KEY_PREFIX (Redis keys, default "chat:rl:").
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from typing import Any

from django.conf import settings

from .errors import RateLimited

log = logging.getLogger("chat.ratelimit")

# KEYS[1]: the bucket; ARGV: burst, tokens per second. Returns the seconds to wait, as a
# string (Lua numbers become integers on the way back): "0" when a token was taken.
TAKE_SCRIPT = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


def _config() -> tuple[float, float]:
    return (
        float(getattr(settings, "CHAT_RATE_LIMIT_BURST", 10)),
        float(getattr(settings, "CHAT_RATE_LIMIT_PER_SECOND", 1)),
    )


class MemoryBuckets:
    """Buckets in this process: {key: (tokens, last update)}. Only the event loop's thread
    touches them, and take() does not await, so no lock is needed."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, burst: float, rate: float) -> float:
        return self.take_now(key, burst, rate)

    def take_now(self, key: str, burst: float, rate: float) -> float:
        """The seconds to wait for a token of `key` (0: one was taken)."""
        now = self.clock()
        tokens, ts = self.buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - ts) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > 10_000:
            self._forget_full(now, burst, rate)
        return wait

    def _forget_full(self, now: float, burst: float, rate: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those to bound memory.
        full = [k for k, (t, ts) in self.buckets.items() if t + (now - ts) * rate >= burst]
        for key in full:
            del self.buckets[key]


class RedisBuckets:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)
        self.script = self.client.register_script(TAKE_SCRIPT)
        self.prefix = prefix

    async def take(self, key: str, burst: float, rate: float) -> float:
        return float(await self.script(keys=[self.prefix + key], args=[burst, rate]))


# One bucket store per event loop: redis-py's asyncio connections belong to the loop that
# opened them (one loop per server process; tests get a fresh one with each loop).
_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MemoryBuckets | RedisBuckets] = (
    weakref.WeakKeyDictionary()
)


def get_store() -> MemoryBuckets | RedisBuckets:
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        url = getattr(settings, "CHAT_RATE_LIMIT_REDIS_URL", "")
        prefix = getattr(settings, "CHAT_RATE_LIMIT_KEY_PREFIX", "chat:rl:")
        store = _stores[loop] = RedisBuckets(url, prefix) if url else MemoryBuckets()
    return store


async def take(key: str) -> None:
    """Take one token from `key`'s bucket, or raise RateLimited with the
    seconds until one is free. If Redis fails, the post is let through (and logged): the
    limit is a brake, not a reason to stop the chat."""
    burst, rate = _config()
    if rate <= 0:
        return
    try:
        wait = await get_store().take(key, burst, rate)
    except Exception:
        log.warning("rate limit store failed; letting the post through", exc_info=True)
        return
    if wait > 0:
        raise RateLimited(
            "You are sending messages too fast; wait a moment.",
            retry_after=math.ceil(wait * 10) / 10,
        )


# --- sync callers (views, the admin, management commands) -------------------------------
# They run in request threads, outside any event loop, so they share one store per process
# (a lock guards the memory buckets) or a synchronous Redis client running the same script.
_sync_lock = threading.Lock()
_sync_store: MemoryBuckets | Any = None


def _sync_take(key: str, burst: float, rate: float) -> float:
    global _sync_store
    with _sync_lock:
        if _sync_store is None:
            url = getattr(settings, "CHAT_RATE_LIMIT_REDIS_URL", "")
            if url:
                import redis

                client = redis.from_url(url)
                _sync_store = client.register_script(TAKE_SCRIPT)
            else:
                _sync_store = MemoryBuckets()
        store = _sync_store
        if isinstance(store, MemoryBuckets):
            return store.take_now(key, burst, rate)
    prefix = getattr(settings, "CHAT_RATE_LIMIT_KEY_PREFIX", "chat:rl:")
    return float(store(keys=[prefix + key], args=[burst, rate]))


def take_sync(key: str, *, burst: float, per_second: float, detail: str) -> None:
    """Take one token from `key`'s bucket (its own burst and rate), or raise
    RateLimited(detail) with retry_after. As take(): a failing store lets the
    action through."""
    if per_second <= 0:
        return
    try:
        wait = _sync_take(key, burst, per_second)
    except Exception:
        log.warning("rate limit store failed; letting the action through", exc_info=True)
        return
    if wait > 0:
        raise RateLimited(detail, retry_after=math.ceil(wait * 10) / 10)


def take_post(user_id: int) -> None:
    """A post (or a report) of `user_id` takes a token: CHAT_RATE_LIMIT_BURST, then
    CHAT_RATE_LIMIT_PER_SECOND; raises RateLimited past it."""
    burst, rate = _config()
    take_sync(
        f"user:{user_id}",
        burst=burst,
        per_second=rate,
        detail="You are sending messages too fast; wait a moment.",
    )


def take_search(user_id: int) -> None:
    """A search of `user_id` takes a token (a short word can mean reading many rows):
    CHAT_SEARCH_BURST, then CHAT_SEARCH_PER_MINUTE."""
    take_sync(
        f"search:{user_id}",
        burst=float(getattr(settings, "CHAT_SEARCH_BURST", 10)),
        per_second=float(getattr(settings, "CHAT_SEARCH_PER_MINUTE", 30)) / 60,
        detail="You are searching too fast; wait a moment.",
    )


def take_export(user_id: int) -> None:
    """A transcript download of `user_id` takes a token: CHAT_EXPORT_BURST, then
    CHAT_EXPORT_PER_HOUR (a room's whole history is a big read)."""
    take_sync(
        f"export:{user_id}",
        burst=float(getattr(settings, "CHAT_EXPORT_BURST", 5)),
        per_second=float(getattr(settings, "CHAT_EXPORT_PER_HOUR", 20)) / 3600,
        detail="You have downloaded many transcripts; wait a while.",
    )


def take_reset_mail(address: str) -> None:
    """A password reset mail to `address` takes a token: CHAT_RESET_MAIL_BURST, then
    CHAT_RESET_MAIL_PER_HOUR, whoever asks (anyone may ask for any address: unlimited,
    the form would let a stranger fill someone's inbox)."""
    take_sync(
        f"reset-mail:{address.strip().lower()}",
        burst=float(getattr(settings, "CHAT_RESET_MAIL_BURST", 3)),
        per_second=float(getattr(settings, "CHAT_RESET_MAIL_PER_HOUR", 3)) / 3600,
        detail="Many reset mails went to this address; wait a while.",
    )
