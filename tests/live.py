"""`websockets` clients of a live server (tests/support/processes.py LiveServer), connecting
the way a logged-in browser page would. Nothing here is mocked."""

from __future__ import annotations

from typing import Any

import websockets

from tests.support.processes import LiveServer


async def ws_connect(server: LiveServer, room: str, cookie: str, **kwargs: Any):
    """Open a `websockets` client connection the way a logged-in browser page would."""
    since = kwargs.pop("since", None)
    return await websockets.connect(
        server.ws_url(room, since),
        additional_headers=[("Cookie", cookie)],
        origin=server.url,
        open_timeout=10,
        **kwargs,
    )
