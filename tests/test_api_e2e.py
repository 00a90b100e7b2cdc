"""The REST API and token sockets on a real daphne: a bot's POST reaches a token socket
live, the idempotent resend holds, and a token handshake needs no cookie or Origin."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import websockets

from tests.support.accounts import create_users
from tests.support.processes import manage

pytestmark = [pytest.mark.e2e]


def token_for(env: dict[str, str], username: str) -> str:
    return manage(env, "create_api_token", username, "--bot").strip().splitlines()[-1]


def rest(url: str, token: str, method: str = "GET", body: object = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_a_bots_post_reaches_a_token_socket_live(live_env, live_server_factory):
    create_users(live_env, "robo", "alice")  # the socket opens lobby (auto-created here)
    server = live_server_factory()
    robo, alice = token_for(live_env, "robo"), token_for(live_env, "alice")
    headers = [("Authorization", f"Bearer {alice}")]
    async with websockets.connect(
        server.ws_url("lobby", None), additional_headers=headers, open_timeout=10
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        post = {"body": "deployed **v2**", "client_id": "deploy-1"}
        status, stored = rest(f"{server.url}/api/rooms/lobby/messages/", robo, "POST", post)
        assert status == 201 and stored["user"] == "robo"
        while (frame := json.loads(await ws.recv()))["type"] != "message":
            pass
        assert frame["message"] == stored  # the same message object, live
        status, again = rest(f"{server.url}/api/rooms/lobby/messages/", robo, "POST", post)
        assert (status, again["seq"]) == (200, stored["seq"])
    status, page = rest(f"{server.url}/api/rooms/lobby/messages/?limit=5", robo)
    assert status == 200 and [m["seq"] for m in page["messages"]] == [stored["seq"]]
    status, refused = rest(f"{server.url}/api/rooms/", "chat_wrong")
    assert (status, refused["code"]) == (401, "unauthorized")
    with pytest.raises(websockets.InvalidStatus) as refused_handshake:
        await websockets.connect(
            server.ws_url("lobby", None),
            additional_headers=[("Authorization", "Bearer chat_wrong")],
            open_timeout=10,
        )
    assert refused_handshake.value.response.status_code == 403
