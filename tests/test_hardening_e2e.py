"""Hardening findings that only a real daphne shows: what a client that never reads costs."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
import websockets

from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import manage

pytestmark = [pytest.mark.e2e]


def _seed_long_messages(env: dict[str, str], room: str, user: str, count: int) -> None:
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        f"u = get_user_model().objects.get(username={user!r})\n"
        f"r = services.create_room(slug={room!r}, user=u)\n"
        f"for i in range({count}):\n"
        "    services.post_message(room=r, user=u, body=(str(i) * 4000)[:4000])\n"
    )
    manage(env, "shell", "-c", code)


def _vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_client_that_never_reads_is_cut_whatever_it_asks_for(live_env, live_server_factory):
    """1,000 history requests (each answered with ~400 KB) from a client that reads nothing:
    the server used to buffer every answer (RSS 240 -> 874 MiB, never cut). Now every frame
    takes the bounded send path: the socket is closed with 4408 once 1 MiB waits unread, the
    server stays small and answers others."""
    create_user(live_env, "hog", PASSWORD)
    create_user(live_env, "neighbour", PASSWORD)
    _seed_long_messages(live_env, "big", "hog", 100)
    server = live_server_factory()
    hog_cookie = login(server.url, "hog", PASSWORD)
    neighbour_cookie = login(server.url, "neighbour", PASSWORD)
    rss_before = _vm_rss_kib(server.proc.pid)

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny receive window
    sock.connect(("127.0.0.1", server.port))
    hog = await websockets.connect(
        server.ws_url("big"),
        sock=sock,
        additional_headers=[("Cookie", hog_cookie)],
        origin=server.url,
        open_timeout=10,
        max_size=None,
    )
    hog.transport.pause_reading()  # read nothing from here on
    for _ in range(1000):
        await hog.send(json.dumps({"type": "history", "limit": 100}))

    deadline = time.monotonic() + 30
    while "disconnecting a slow client room=big" not in server.log():
        assert time.monotonic() < deadline, server.log()[-3000:]
        await asyncio.sleep(0.05)
    # Far less than the ~400 MB the answers would take.
    assert _vm_rss_kib(server.proc.pid) - rss_before < 100 * 1024

    async with await websockets.connect(
        server.ws_url("big"),
        additional_headers=[("Cookie", neighbour_cookie)],
        origin=server.url,
        open_timeout=10,
        max_size=None,
    ) as neighbour:
        welcome = json.loads(await asyncio.wait_for(neighbour.recv(), 10))
        assert welcome["type"] == "welcome" and welcome["last_seq"] == 100

    hog.transport.resume_reading()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(hog.recv(), 30)
    # The close frame waits behind the megabyte the client left unread: daphne (autobahn)
    # drops the connection if the client does not answer the close in time, so a client
    # that reads only now may see the drop rather than the 4408 frame; never another code.
    assert closed.value.rcvd is None or closed.value.rcvd.code == 4408
    assert "Traceback" not in server.log()
