"""A curious outsider against a real daphne: a private room's page and handshake answer
exactly as for a room that never existed (with the default, rooms made on purpose)."""

from __future__ import annotations

import re
import urllib.request

import pytest
import websockets

from tests.live import ws_connect
from tests.support.accounts import PASSWORD, create_user, login
from tests.support.processes import manage

pytestmark = [pytest.mark.e2e]


def _get(url: str, cookie: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_an_outsider_cannot_tell_a_private_room_from_no_room(live_env, live_server_factory):
    live_env["CHAT_AUTO_CREATE_ROOMS"] = "0"
    create_user(live_env, "alice", PASSWORD)
    create_user(live_env, "eve", PASSWORD)
    manage(
        live_env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "alice = get_user_model().objects.get(username='alice')\n"
        "services.new_room(user=alice, title='Acquisition', private=True)\n",
    )
    server = live_server_factory()
    eve = login(server.url, "eve", PASSWORD)
    secret_status, secret_page = _get(f"{server.url}/chat/acquisition/", eve)
    none_status, none_page = _get(f"{server.url}/chat/acquisitions/", eve)
    assert secret_status == none_status == 404
    noise = re.compile(r'nonce="[^"]*"|value="[^"]*"')
    assert noise.sub("", secret_page).replace("acquisition/", "X/") == noise.sub(
        "", none_page
    ).replace("acquisitions/", "X/")

    refusals = []
    for room in ("acquisition", "acquisitions"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await ws_connect(server, room, eve)
        refusals.append((refused.value.response.status_code, refused.value.response.body))
    assert refusals[0] == refusals[1] and refusals[0][0] == 403

    _, listing = _get(f"{server.url}/", eve)
    assert "Acquisition" not in listing and "acquisition" not in listing
    alice = login(server.url, "alice", PASSWORD)
    owner = await ws_connect(server, "acquisition", alice)  # its member gets in
    await owner.close()
