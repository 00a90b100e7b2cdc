"""Two daphne processes sharing one PostgreSQL database and one Redis: users on different
processes chat both ways, and 200 concurrent posts through both processes are stored with
seqs 1..200 and delivered to every client in that order."""

from __future__ import annotations

import asyncio

import pytest

from tests.scale import Client, cluster_env, start_servers, stored_seqs
from tests.stack import start_redis
from tests.support.accounts import create_users
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

ROOM = "scale"


@pytest.fixture
def cluster(pg_database, redis_server, tmp_path):
    env = cluster_env(pg_database, redis_server.url, f"scale{redis_server.port}")
    create_users(env, "alice", "bob")
    servers = start_servers(env, tmp_path, 2)
    yield servers
    for server in servers:
        server.stop()


async def test_users_on_two_processes_chat_both_ways(cluster):
    one, two = cluster
    alice = await Client.open(one, ROOM, "alice")
    bob = await Client.open(two, ROOM, "bob")
    try:
        await alice.post("hello from process 1")
        await bob.wait_seq(1, timeout=15)
        assert bob.bodies[1] == "hello from process 1"

        await bob.post("hello back from process 2")
        await alice.wait_seq(2, timeout=15)
        await bob.wait_seq(2, timeout=15)  # bob's own, from his process: no race with alice's
        assert alice.bodies[2] == "hello back from process 2"
        assert alice.seqs == bob.seqs == [1, 2]
    finally:
        await alice.close()
        await bob.close()


async def test_200_concurrent_posts_over_two_processes_are_gapless_and_in_order(
    cluster, pg_database
):
    one, two = cluster
    # Four sockets, two per process, all posting at once without waiting for echoes; every
    # one of them also receives the room, so each must see 1..200 in order.
    clients = [
        await Client.open(one, ROOM, "alice"),
        await Client.open(two, ROOM, "bob"),
        await Client.open(one, ROOM, "bob"),
        await Client.open(two, ROOM, "alice"),
    ]
    try:
        sent = {f"c{i}-m{n}" for i in range(4) for n in range(50)}

        async def post_all(i: int, client: Client) -> None:
            for n in range(50):
                await client.post(f"c{i}-m{n}", client_id=f"c{i}-{n}")

        await asyncio.gather(*(post_all(i, c) for i, c in enumerate(clients)))
        for client in clients:
            await client.wait_seq(200, timeout=90)

        assert stored_seqs(pg_database, ROOM) == list(range(1, 201))
        for client in clients:
            assert client.seqs == list(range(1, 201)), "delivered out of order or twice"
            assert set(client.bodies.values()) == sent
            assert not [f for f in client.frames if f["type"] == "error"]
    finally:
        for client in clients:
            await client.close()


async def test_two_redis_shards_carry_the_rooms(pg_database, redis_server, tmp_path):
    """REDIS_URL with two comma-separated servers: rooms hash onto either shard (the pub/sub
    layer's consistent hash), and each shard carries its rooms between the processes."""
    from channels_redis.utils import _consistent_hash

    second = start_redis(tmp_path / "second")
    shards = [redis_server, second]
    prefix = f"shards{redis_server.port}"
    group_channel = f"{prefix}__group__room.{{}}"  # channels-redis' pub/sub channel name
    rooms: dict[int, str] = {}
    for n in range(100):
        rooms.setdefault(_consistent_hash(group_channel.format(f"shard-{n}"), 2), f"shard-{n}")
    assert len(rooms) == 2
    try:
        env = cluster_env(pg_database, f"{redis_server.url},{second.url}", prefix)
        create_users(env, "alice", "bob")
        one, two = start_servers(env, tmp_path, 2)
        try:
            for index, room in sorted(rooms.items()):
                alice = await Client.open(one, room, "alice")
                bob = await Client.open(two, room, "bob")
                try:
                    await alice.post(f"hello {room}")
                    await bob.wait_seq(1, timeout=15)
                    assert bob.bodies[1] == f"hello {room}"
                    # Both processes listen for this room on its own shard.
                    subscribers = await asyncio.to_thread(
                        numsub, shards[index], group_channel.format(room)
                    )
                    assert subscribers == 2
                finally:
                    await alice.close()
                    await bob.close()
        finally:
            one.stop()
            two.stop()
    finally:
        second.kill()


def numsub(server: RedisServer, channel: str) -> int:
    import redis

    return dict(redis.Redis(port=server.port).pubsub_numsub(channel)).get(channel.encode(), 0)


async def test_redis_found_through_sentinel(pg_database, redis_server, tmp_path):
    """REDIS_SENTINELS + REDIS_SENTINEL_MASTER instead of REDIS_URL: the layer asks a
    sentinel for the master and the processes chat through it."""
    sentinel = start_redis(tmp_path / "sentinel", sentinel_for=redis_server.port)
    try:
        env = cluster_env(pg_database, "", f"sentinel{redis_server.port}")
        env.pop("REDIS_URL")
        env.update(REDIS_SENTINELS=f"127.0.0.1:{sentinel.port}", REDIS_SENTINEL_MASTER="chat")
        create_users(env, "alice", "bob")
        one, two = start_servers(env, tmp_path, 2)
        try:
            alice = await Client.open(one, ROOM, "alice")
            bob = await Client.open(two, ROOM, "bob")
            try:
                await bob.post("through the sentinel's master")
                await alice.wait_seq(1, timeout=15)
                assert alice.bodies[1] == "through the sentinel's master"
            finally:
                await alice.close()
                await bob.close()
        finally:
            one.stop()
            two.stop()
    finally:
        sentinel.kill()
