"""Redis goes away mid-stream (crashes and restarts empty, or its connections are cut) under
two daphne processes on PostgreSQL: every post is still stored, the processes reconnect by
themselves, and every client ends up with every stored message, in seq order, once."""

from __future__ import annotations

import asyncio

import pytest

from tests.proxy import TcpProxy
from tests.scale import Client, cluster_env, start_servers, stored_seqs
from tests.support.accounts import create_users

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

ROOM = "outage"
LATE_ROOM = "outage-late"
PER_PHASE = 30  # posts before, during and after the outage


# The default layer under both kinds of outage; the core layer where it differs (a restart
# loses its groups, which each process must add again).
@pytest.mark.parametrize(
    ("layer", "outage"), [("pubsub", "restart"), ("pubsub", "cut"), ("core", "restart")]
)
async def test_no_stored_message_is_lost_when_redis_goes_away(
    pg_database, redis_server, tmp_path, outage, layer
):
    proxy = TcpProxy("127.0.0.1", redis_server.port).start() if outage == "cut" else None
    redis_url = f"redis://127.0.0.1:{proxy.port}/0" if proxy else redis_server.url
    env = cluster_env(pg_database, redis_url, f"outage{redis_server.port}", CHANNEL_LAYER=layer)
    create_users(env, "alice", "bob")
    one, two = servers = start_servers(env, tmp_path, 2)
    pids = [server.proc.pid for server in servers]
    clients: list[Client] = []
    try:
        # Watchers that stay connected throughout, one per process, and a client that
        # leaves during the outage and resumes with `since` afterwards.
        watch_one = await Client.open(one, ROOM, "alice")
        watch_two = await Client.open(two, ROOM, "bob")
        leaver = await Client.open(two, ROOM, "alice")
        sender_one = await Client.open(one, ROOM, "bob")
        sender_two = await Client.open(two, ROOM, "alice")
        clients = [watch_one, watch_two, leaver, sender_one, sender_two]

        async def post_phase(phase: str) -> None:
            for n in range(PER_PHASE):
                sender = sender_one if n % 2 else sender_two
                await sender.post(f"{phase}-{n}", client_id=f"{phase}-{n}")
                await asyncio.sleep(0.01)  # a steady stream, not one burst

        await post_phase("before")
        await leaver.wait_seq(PER_PHASE, timeout=30)

        if proxy:
            proxy.cut()
        else:
            redis_server.kill()
        await leaver.close()
        resume_from = max(leaver.seqs)

        await post_phase("during")
        # A socket opened during the outage, in a room its process was not subscribed to.
        late = await Client.open(one, LATE_ROOM, "bob")
        clients.append(late)
        # Stored although Redis is down: the database is the log.
        deadline = asyncio.get_running_loop().time() + 30
        while len(stored_seqs(pg_database, ROOM)) < 2 * PER_PHASE:
            assert asyncio.get_running_loop().time() < deadline, "posts during the outage"
            await asyncio.sleep(0.1)

        if proxy:
            proxy.restore()
        else:
            redis_server.start()  # same port, empty: groups and queues are gone

        # Nothing new is posted: what was stored during the outage must still reach the
        # sockets that stayed connected (the fan-out catches up from the database).
        for client in (watch_one, watch_two, sender_one, sender_two):
            await client.wait_seq(2 * PER_PHASE, timeout=30)

        await post_phase("after")  # and live delivery works again, without a restart
        poster = await Client.open(two, LATE_ROOM, "alice")
        clients.append(poster)
        await poster.post("to the late joiner")
        await late.wait_seq(1, timeout=30)
        assert late.bodies[1] == "to the late joiner"
        total = 3 * PER_PHASE
        for client in (watch_one, watch_two, sender_one, sender_two):
            await client.wait_seq(total, timeout=60)
        await leaver.connect(since=resume_from)
        await leaver.wait_seq(total, timeout=30)

        assert stored_seqs(pg_database, ROOM) == list(range(1, total + 1))
        for client in (watch_one, watch_two, sender_one, sender_two):
            assert client.seqs == list(range(1, total + 1)), "a message missing or repeated"
        assert leaver.seqs == list(range(1, total + 1))
        assert [server.proc.pid for server in servers] == pids
        assert all(server.proc.poll() is None for server in servers), "a server died"
    finally:
        for client in clients:
            await client.close()
        for server in servers:
            server.stop()
        if proxy:
            proxy.stop()
