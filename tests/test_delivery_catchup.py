"""A client away while 1,200 messages were posted catches up completely on reconnect (issue 3):
the welcome brings 500 (has_more_after), `history` `after` pages bring the rest, while new
messages keep arriving live."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.live import ws_connect
from tests.reference_client import ReferenceClient
from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import LiveServer, manage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MISSED = 1200
LIVE_DURING_CATCHUP = 30


async def post_many(server: LiveServer, cookie: str, bodies: list[str]) -> None:
    """Post through one socket, pipelined, and wait for every echo (bodies are unique, so
    they serve as client_ids)."""
    async with await ws_connect(server, "busy", cookie, max_size=2**22) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        for body in bodies:
            await ws.send(json.dumps({"type": "message", "body": body, "client_id": body}))
        echoed = 0
        while echoed < len(bodies):
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
            assert frame["type"] == "message", frame
            if frame["message"]["user"] == "poster":
                echoed += 1


def post_from_another_process(env: dict[str, str], count: int) -> None:
    """ "while away <i>" posted through the one write path by another process (as another
    server process would; quicker than a socket, the slow part of this test otherwise)."""
    code = (
        "from django.contrib.auth import get_user_model; from chat import services;"
        "u = get_user_model().objects.get(username='poster');"
        "r = services.create_room(slug='busy', user=u);"
        f"[services.post_message(room=r, user=u, body=f'while away {{i}}') for i in range({count})]"
    )
    manage(env, "shell", "-c", code)


async def test_client_away_for_1200_messages_catches_up(live_env, live_server_factory):
    live_env.update(CHAT_RATE_LIMIT_PER_SECOND="0")  # the poster posts fast
    create_user(live_env, "poster", PASSWORD)
    create_user(live_env, "away", PASSWORD)
    server = live_server_factory()
    poster = login(server.url, "poster", PASSWORD)
    away = ReferenceClient(
        "away",
        lambda since: server.ws_url("busy", since),
        cookie=login(server.url, "away", PASSWORD),
        origin=server.url,
    )
    await post_many(server, poster, ["before 1", "before 2"])
    away.start()
    try:
        await away.wait_until(lambda: away.last == 2, 15, "the first two messages")
        await away.stop()  # away...
        await asyncio.to_thread(post_from_another_process, live_env, MISSED)
        away.start()  # ...and back, with ?since=2
        live = asyncio.create_task(
            post_many(server, poster, [f"live {i}" for i in range(LIVE_DURING_CATCHUP)])
        )
        total = 2 + MISSED + LIVE_DURING_CATCHUP
        await away.wait_until(lambda: away.last == total, 60, f"seq {total}")
        await live
    finally:
        await away.stop()

    resume = away.welcomes[-1]
    print(
        f"\ncatch-up: missed {MISSED} (+{LIVE_DURING_CATCHUP} live meanwhile);"
        f" welcome last_seq {resume['last_seq']}, has_more_after {resume['has_more_after']},"
        f" history pages {away.stats['history_pages']}, seen {len(away.displayed)}"
    )
    assert resume["has_more_after"] is True  # the welcome could not carry all of them
    assert away.stats["history_pages"] >= (MISSED - 500) // 100
    assert away.seqs == list(range(1, total + 1))
    bodies = [m["body"] for m in away.displayed]
    assert bodies[:2] == ["before 1", "before 2"]
    assert bodies[2 : 2 + MISSED] == [f"while away {i}" for i in range(MISSED)]
    assert sorted(bodies[2 + MISSED :]) == sorted(f"live {i}" for i in range(LIVE_DURING_CATCHUP))
