"""`websockets` clients of a live server (tests/support/processes.py LiveServer), connecting
the way a logged-in browser page would. Nothing here is mocked."""

from __future__ import annotations

from typing import Any

import websockets

# Still imported from here by tests/test_accounts.py (live.create_user, live.login),
# tests/test_fuzz.py (LiveServer, login, manage) and tests/test_csp_browser.py (manage):
# drop once they import tests.support.
from tests.support.accounts import create_user, login  # noqa: F401
from tests.support.processes import LiveServer, manage  # noqa: F401


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
