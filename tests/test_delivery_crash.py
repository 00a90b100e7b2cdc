"""The delivery guarantee through server crashes (issue 3): every message the server
acknowledged is seen by every client exactly once, in seq order.

A real daphne (on a SQLite file; on PostgreSQL + Redis in tests/run.sh's second pass); four
reference clients (tests/reference_client.py) post with client_ids while the server is killed
with SIGKILL and restarted on the same port, twice. Run with -s to see the figures.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.reference_client import ReferenceClient
from tests.support.accounts import PASSWORD, create_users, login
from tests.support.processes import LiveServer, manage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = 4
POSTS_EACH = 60
POST_INTERVAL = 0.05  # a steady stream, so posts are in flight when the server dies
KILLS = 2
ACKS_BETWEEN_KILLS = 40  # kill once every client is back and this many more were acknowledged
ROOM = "crash"


def stored_messages(env: dict[str, str]) -> list[tuple[int, str, str, str | None]]:
    """(seq, username, body, client_id) of the room, read from the server's database (SQLite
    or, on the production-stack pass, PostgreSQL) by a separate process."""
    code = (
        "import json; from chat.models import Message;"
        f"rows = Message.objects.filter(room__slug={ROOM!r}).order_by('seq')"
        ".values_list('seq', 'author__username', 'body', 'client_id');"
        "print(json.dumps(list(rows)))"
    )
    return [tuple(row) for row in json.loads(manage(env, "shell", "-c", code).splitlines()[-1])]


async def test_acknowledged_messages_survive_sigkill_exactly_once(live_env, tmp_path):
    live_env = {**live_env, "CHAT_RATE_LIMIT_PER_SECOND": "0"}  # the clients post fast
    names = [f"user{i}" for i in range(CLIENTS)]
    create_users(live_env, *names)
    log_path = tmp_path / "daphne.log"
    server = LiveServer(live_env, log_path).start()
    servers = [server]
    clients = [
        ReferenceClient(
            name,
            lambda since: server.ws_url(ROOM, since),
            cookie=login(server.url, name, PASSWORD),
            origin=server.url,
        )
        for name in names
    ]
    in_flight_at_kill: list[int] = []

    def acked() -> int:
        return sum(len(c.acked) for c in clients)

    async def poster(client: ReferenceClient) -> None:
        for i in range(POSTS_EACH):
            await client.post(f"{client.name} says {i}")
            await asyncio.sleep(POST_INTERVAL)

    try:
        for client in clients:
            client.start()
        for client in clients:
            await asyncio.wait_for(client.connected.wait(), timeout=15)
        posters = [asyncio.create_task(poster(c)) for c in clients]

        acked_at_kill = 0
        for kill in range(KILLS):

            def ready(kill: int = kill, floor: int = acked_at_kill) -> bool:
                back = all(c.stats["connects"] > kill for c in clients)
                return back and acked() >= min(floor + ACKS_BETWEEN_KILLS, CLIENTS * POSTS_EACH)

            await clients[0].wait_until(ready, 60, f"every client back, kill {kill + 1}")
            servers[-1].kill()
            acked_at_kill = acked()
            in_flight_at_kill.append(sum(len(c.outbox) for c in clients))  # sent or queued
            restarted = LiveServer(live_env, log_path, port=server.port)
            servers.append(restarted)
            await asyncio.to_thread(restarted.start)

        await asyncio.wait_for(asyncio.gather(*posters), timeout=60)
        for client in clients:
            await client.wait_until(lambda c=client: not c.outbox, 60, "every post acknowledged")
        rows = stored_messages(live_env)
        total = len(rows)
        for client in clients:
            await client.wait_until(lambda c=client: c.last >= total, 60, f"seq {total}")
    finally:
        for client in clients:
            await client.stop()
        for s in servers:
            s.stop()

    sent = sum(c.stats["sent"] for c in clients)
    print(
        f"\ncrash test: {len(servers) - 1} SIGKILLs, posts in flight at each kill:"
        f" {in_flight_at_kill}; sent {sent}, acknowledged {acked()}, stored {total}"
    )
    for c in clients:
        print(
            f"  {c.name}: sent {c.stats['sent']}, acknowledged {len(c.acked)},"
            f" resent {c.stats['resent']}, connects {c.stats['connects']},"
            f" history pages {c.stats['history_pages']}, seen {len(c.displayed)}"
            f" (seqs {c.seqs[0]}..{c.seqs[-1]})"
        )

    # The server really died mid-stream, and the clients really reconnected.
    assert len(servers) == 1 + KILLS
    assert all(c.stats["connects"] >= 1 + KILLS for c in clients)

    # The database: seqs 1..N, no client_id twice, everything sent stored exactly once.
    assert [r[0] for r in rows] == list(range(1, total + 1))
    client_ids = Counter(r[3] for r in rows)
    assert max(client_ids.values()) == 1, client_ids.most_common(3)
    assert None not in client_ids
    stored_by_id = {r[3]: r for r in rows}
    for c in clients:
        assert not c.failed, c.failed
        for client_id, seq in c.acked.items():
            seq_, user, _, _ = stored_by_id[client_id]
            assert (seq_, user) == (seq, c.name)
    assert sent == acked() == total == CLIENTS * POSTS_EACH

    # Every client saw every message once, in seq order, the same as everyone else.
    expected = [(seq, user, body, cid) for seq, user, body, cid in rows]
    for c in clients:
        assert c.seqs == list(range(1, total + 1))
        seen = [(m["seq"], m["user"], m["body"], m["client_id"]) for m in c.displayed]
        assert seen == expected
