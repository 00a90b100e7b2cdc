"""Compare channels-redis' two layers as this site uses them (docs/deployment.md).

    python -m bench.layer_compare [--messages 2000] [--subscribers 2] [--rounds 3]

The site's fan-out subscribes ONE channel per server process to a room's group, so what
the layer carries per post is one group_send and one receive per process. This measures
exactly that, without daphne and sockets in the way: `subscribers` processes (one channel
each, in the room's group) and one publisher posting `messages` group_sends as fast as it
can (one at a time, as services do after commit). Then the failure behaviour:
a subscriber killed with SIGKILL (does the group still list it? what does a send cost?),
publishing while Redis is down, and how long until delivery resumes after Redis restarts.
Runs on a private redis-server on a free port; bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.redis_server import RedisServer

LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
GROUP = "room.bench"


def private_redis() -> RedisServer:
    return RedisServer(Path(tempfile.mkdtemp(prefix="layer-compare-"))).start()


def make_layer(kind: str, port: int) -> Any:
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    hosts = [f"redis://127.0.0.1:{port}/0"]
    if kind == "core":  # the site's capacity (CHANNEL_LAYER_CAPACITY), not the default 100
        return RedisChannelLayer(hosts=hosts, prefix="cmp", capacity=1000)
    return RedisPubSubChannelLayer(hosts=hosts, prefix="cmp")


def subscriber(kind: str, port: int, ready: Any, out: Any, expect: int) -> None:
    """A server process's fan-out, reduced: one channel in the group, receive and time."""

    async def main() -> None:
        layer = make_layer(kind, port)
        channel = await layer.new_channel()
        await layer.group_add(GROUP, channel)
        ready.put(channel)
        latencies: list[float] = []
        seen: set[int] = set()
        first = last = 0.0
        while len(seen) < expect:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 10)
            except TimeoutError:
                break
            now = time.time()
            if message.get("n") == -1:
                continue
            first = first or now
            last = now
            seen.add(message["n"])
            latencies.append(now - message["t"])
        out.put({"received": len(seen), "first": first, "last": last, "latencies": latencies})

    asyncio.run(main())


def idle_subscriber(kind: str, port: int, ready: Any) -> None:
    async def main() -> None:
        layer = make_layer(kind, port)
        channel = await layer.new_channel()
        await layer.group_add(GROUP, channel)
        ready.put(channel)
        await asyncio.sleep(3600)

    asyncio.run(main())


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


async def throughput(kind: str, port: int, messages: int, subscribers: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(target=subscriber, args=(kind, port, ready, out, messages))
        for _ in range(subscribers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=30)
    layer = make_layer(kind, port)
    await layer.group_send(GROUP, {"type": "x", "n": -1, "t": time.time()})  # warm up
    started = time.time()
    for n in range(messages):
        await layer.group_send(GROUP, {"type": "chat.message", "n": n, "t": time.time()})
    sent = time.time()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    latencies = [x for r in results for x in r["latencies"]]
    received = sum(r["received"] for r in results)
    end = max(r["last"] for r in results)
    return {
        "layer": kind,
        "messages": messages,
        "subscribers": subscribers,
        "publish_per_s": round(messages / (sent - started)),
        "deliveries_per_s": round(received / (end - started)) if end > started else 0,
        "p50_ms": round(pct(latencies, 0.5), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "lost": messages * subscribers - received,
    }


async def failures(kind: str) -> dict[str, Any]:
    """Stale members after a crash; publishing while Redis is down; recovery after restart."""
    import redis as redis_py

    redis = private_redis()
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    victim = ctx.Process(target=idle_subscriber, args=(kind, redis.port, ready))
    victim.start()
    ready.get(timeout=30)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    plain = redis_py.Redis(port=redis.port)
    await asyncio.sleep(0.5)  # let Redis notice the closed connection (pub/sub unsubscribes then)
    if kind == "core":
        stale = plain.zcard(f"cmp:group:{GROUP}")
    else:
        stale = sum(count for _, count in plain.pubsub_numsub(f"cmp__group__{GROUP}"))
    layer = make_layer(kind, redis.port)
    for n in range(50):  # sends to the dead member pile up in its queue (core) or vanish
        await layer.group_send(GROUP, {"type": "x", "n": n})
    dead_queue = sum(plain.zcard(k) for k in plain.keys("cmp*specific*")) if kind == "core" else 0

    # A live member, then Redis crashes and restarts empty.
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    # Like the site's fan-out (chat/fanout.py _run): a receive always in flight; on an
    # error, re-add the group and receive again.
    got = asyncio.Event()
    rejoined = False

    async def receive_forever() -> None:
        nonlocal rejoined
        while True:
            try:
                await layer.receive(channel)
                got.set()
            except Exception:
                await asyncio.sleep(0.1)
                try:
                    await layer.group_add(GROUP, channel)
                    rejoined = True
                except Exception:
                    pass

    receiver = asyncio.get_running_loop().create_task(receive_forever())
    await asyncio.sleep(0.2)  # the receive is in flight, as in a running server
    redis.kill()
    started = time.monotonic()
    try:
        await layer.group_send(GROUP, {"type": "x", "n": 0})
        publish_down = "no error (message lost)"
    except Exception as exc:
        publish_down = f"{type(exc).__name__} after {round((time.monotonic() - started) * 1000)} ms"
    redis.start()
    started = time.monotonic()
    recovered = None
    while time.monotonic() - started < 15:
        with contextlib.suppress(Exception):
            await layer.group_send(GROUP, {"type": "x", "n": 1})
        try:
            await asyncio.wait_for(got.wait(), 0.2)
            recovered = round(time.monotonic() - started, 2)
            break
        except TimeoutError:
            continue
    receiver.cancel()
    redis.kill()
    return {
        "layer": kind,
        "group_members_after_crash": stale,
        "queued_for_dead_member_after_50_sends": dead_queue,
        "publish_while_down": publish_down,
        "delivery_back_after_restart_s": recovered,
        "needed_group_add_again": rejoined,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.layer_compare")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    redis = private_redis()
    rows = []
    try:
        for round_ in range(args.rounds):  # interleaved: the machine is shared and noisy
            for kind in LAYERS:
                row = await throughput(kind, redis.port, args.messages, args.subscribers)
                row["round"] = round_ + 1
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        redis.kill()
    print("\n| layer | publish/s | deliveries/s | p50 ms | p99 ms | lost |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in LAYERS:
        mine = [r for r in rows if r["layer"] == kind]
        med = {k: statistics.median(r[k] for r in mine) for k in mine[0] if k != "layer"}
        print(
            f"| {kind} | {med['publish_per_s']:,.0f} | {med['deliveries_per_s']:,.0f} "
            f"| {med['p50_ms']} | {med['p99_ms']} | {sum(r['lost'] for r in mine)} |"
        )
    print()
    for kind in LAYERS:
        print(json.dumps(await failures(kind)))


if __name__ == "__main__":
    asyncio.run(main())
