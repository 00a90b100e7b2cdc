import json

import pytest

from tests.live import ws_connect
from tests.support.accounts import PASSWORD, create_user, login

pytestmark = [pytest.mark.e2e]


async def test_plain_text_frame_over_real_daphne(live_env, live_server_factory):
    create_user(live_env, "alice", PASSWORD)
    server = live_server_factory()
    cookie = login(server.url, "alice", PASSWORD)
    async with await ws_connect(server, "lobby", cookie) as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome"
        await ws.send("Hello, world!")
        frame = json.loads(await ws.recv())
        assert frame["type"] == "message"
        assert frame["message"]["body"] == "Hello, world!"
        assert frame["message"]["user"] == "alice"
