"""The token bucket, in memory and on a real Redis (keys under a unique prefix, deleted
afterwards; never a FLUSHALL)."""

from __future__ import annotations

import os
import uuid

import pytest

from chat import ratelimit
from chat.errors import ChatError

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_gives_a_burst_then_the_steady_rate():
    clock = Clock()
    buckets = ratelimit.MemoryBuckets(clock)
    waits = [await buckets.take("u1", 10, 1) for _ in range(11)]
    assert waits[:10] == [0] * 10
    assert waits[10] == pytest.approx(1.0)
    assert await buckets.take("u2", 10, 1) == 0  # another user has a bucket of their own
    clock.now += 0.5
    assert await buckets.take("u1", 10, 1) == pytest.approx(0.5)
    clock.now += 0.5
    assert await buckets.take("u1", 10, 1) == 0  # a token refilled after a second
    clock.now += 60
    waits = [await buckets.take("u1", 10, 1) for _ in range(11)]
    assert waits.count(0) == 10  # refills up to the burst, not beyond


async def test_take_raises_rate_limited_and_can_be_turned_off(settings):
    settings.CHAT_RATE_LIMIT_BURST = 2
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.25
    key = f"test:{uuid.uuid4()}"
    await ratelimit.take(key)
    await ratelimit.take(key)
    with pytest.raises(ChatError) as refused:
        await ratelimit.take(key)
    assert refused.value.code == "rate_limited"
    assert 0 < refused.value.extra["retry_after"] <= 4
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0
    for _ in range(20):
        await ratelimit.take(key)


@pytest.fixture
async def redis_buckets():
    """Two stores on one Redis, as two server processes would have."""
    import redis.asyncio as redis

    probe = redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except Exception:
        await probe.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"test-rl-{uuid.uuid4().hex}:"
    stores = [ratelimit.RedisBuckets(REDIS_URL, prefix) for _ in range(2)]
    yield stores
    keys = [k async for k in probe.scan_iter(match=f"{prefix}*")]
    if keys:
        await probe.delete(*keys)
    for store in stores:
        await store.client.aclose()
    await probe.aclose()


@pytest.mark.redis
async def test_redis_bucket_is_shared_between_processes(redis_buckets):
    one, two = redis_buckets
    waits = [await (one if n % 2 else two).take("user:1", 10, 1) for n in range(10)]
    assert waits == [0] * 10
    wait = await two.take("user:1", 10, 1)
    assert 0.9 < wait <= 1.0
    assert await one.take("user:2", 10, 1) == 0
    assert 0 < await one.take("user:1", 10, 1) <= 1.0


@pytest.mark.redis
async def test_redis_bucket_limits_and_expires(redis_buckets):
    one, _ = redis_buckets
    for _ in range(2):
        assert await one.take("u", 2, 20) == 0
    assert 0 < await one.take("u", 2, 20) <= 0.05
    ttl = await one.client.pttl(one.prefix + "u")
    assert 0 < ttl <= 1100  # an idle bucket disappears once it would be full anyway
