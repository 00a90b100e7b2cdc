"""What a hostile or broken client cannot do to the server or to its neighbours (the
hardening findings), over the full ASGI application with WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session

from chat import fanout, protocol
from chat.errors import ChatError
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)

# Every kind of JSON value, in every place a command has a field.
VALUES = [{}, [], {"a": [1]}, [[]], None, True, 0, -1, 1.5, 2**64, "", "x" * 300, "\x00"]


@pytest.mark.parametrize("kind", [*VALUES, "message", "history", "ban", "room_settings"])
@pytest.mark.parametrize("field", ["type", "body", "user", "seq", "reason", "limit", "before"])
def test_parse_frame_answers_every_json_value_with_a_command_or_a_chat_error(kind, field):
    """Parsing never raises anything but ChatError, whatever the JSON: the consumer turns that
    into an error frame (an unhashable "type" used to raise TypeError and close with 1011)."""
    for value in VALUES:
        frame = {"type": kind, field: value}
        try:
            text = json.dumps(frame)
        except (TypeError, ValueError):
            continue
        try:
            protocol.parse_frame(text)
        except ChatError as err:
            assert err.code in {"bad_request", "too_long"}


@pytest.mark.parametrize("frame", ['{"type": {}}', '{"type": []}', '{"type": {"a": 1}}'])
async def test_an_object_or_list_as_type_gets_bad_request_and_the_socket_stays(
    open_chat, alice, frame
):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(frame)
    error = await chat.recv_type("error")
    assert error["code"] == "bad_request"
    await chat.send({"type": "ping"})
    assert (await chat.recv_type("pong"))["last_seq"] == 0


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ban", "user": "\ud800"},
        {"type": "ban", "user": "bob\x00"},
        {"type": "mute", "user": "bob", "reason": "\udfff spam"},
        {"type": "kick", "user": "bob", "reason": "nul\x00"},
        {"type": "report", "seq": 1, "reason": "\ud800"},
    ],
)
async def test_nul_or_lone_surrogate_in_a_moderation_command_is_bad_request(
    open_chat, alice, frame
):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(json.dumps(frame))  # ensure_ascii: the surrogate travels as \ud800
    error = await chat.recv_type("error")
    assert (error["code"], error["command"]) == ("bad_request", frame["type"])


class Broken(Exception):
    """Stands in for autobahn's Disconnected: a send to a socket whose close has begun."""


async def test_a_socket_whose_send_fails_costs_its_neighbours_nothing(open_chat, alice, bob):
    """One socket failing mid-delivery must not skip the sockets after it (the room's cursor
    moved on, so they would never get that seq live), and it leaves the fan-out at once."""
    carol = await database_sync_to_async(make_user)("carol")
    sender = await open_chat(alice)
    await sender.recv_type("welcome")
    victims = [await open_chat(bob) for _ in range(5)]
    others = [await open_chat(carol) for _ in range(5)]
    for chat in victims + others:
        await chat.recv_type("welcome")
    feed = fanout.get_fanout().rooms["lobby"]
    broken = [c for c in feed.conns if c.user_id == carol.pk]
    assert len(broken) == 5

    async def fail(frame):
        raise Broken

    for conn in broken:
        conn.send = fail
    for i in range(3):
        await sender.send({"type": "message", "body": f"m{i}"})
    for chat in victims:
        got = [(await chat.recv_type("message"))["message"]["seq"] for _ in range(3)]
        assert got == [1, 2, 3]
    for conn in broken:
        assert conn.closed and conn not in feed.conns
    await asyncio.wait_for(asyncio.gather(*fanout.get_fanout()._closing), 5)  # their leave()
    assert carol.pk not in fanout.get_fanout().users


async def test_a_consumer_that_fails_leaves_the_fan_out(open_chat, alice, monkeypatch):
    """A bug that ends a consumer must not leave its dead connection in the fan-out, where
    every later message would be sent to it."""
    from chat.consumers import ChatConsumer

    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    assert len(fanout.get_fanout().rooms["lobby"].conns) == 1

    async def boom(self, message):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ChatConsumer, "websocket_receive", boom)
    await chat.send("hello")
    with pytest.raises(RuntimeError):
        await chat.comm.wait(timeout=5)
    feed = fanout.get_fanout().rooms.get("lobby")
    assert feed is None or not feed.conns  # out of every delivery at once
    await asyncio.wait_for(asyncio.gather(*fanout.get_fanout()._closing), 5)  # its leave()
    assert "lobby" not in fanout.get_fanout().rooms
    assert alice.pk not in fanout.get_fanout().users

    async def gone() -> None:  # the consumer has ended: nothing left to disconnect
        pass

    chat.close = gone


async def _closed_with(chat, code: int, timeout: float = 5) -> None:  # noqa: ASYNC109
    while True:
        frame = await chat.comm.receive_output(timeout=timeout)
        if frame["type"] == "websocket.close":
            assert frame.get("code") == code, frame
            return


@pytest.fixture
def quick_checks(settings):
    settings.CHAT_FANOUT_REFRESH_SECONDS = 0.2


async def test_a_password_change_closes_the_old_sessions_sockets(open_chat, alice, quick_checks):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")

    @database_sync_to_async
    def change_password():
        user = get_user_model().objects.get(pk=alice.pk)
        user.set_password("a-brand-new-password-42")
        user.save()

    await change_password()
    await _closed_with(chat, 4403)


async def test_the_session_that_changed_the_password_stays(open_chat, alice, quick_checks):
    """Django keeps the session that changed the password logged in
    (update_session_auth_hash); so does its socket."""
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    other = await open_chat(alice)
    await other.recv_type("welcome")

    @database_sync_to_async
    def change_password_in_the_first_session():
        from importlib import import_module

        from django.conf import settings

        user = get_user_model().objects.get(pk=alice.pk)
        user.set_password("a-brand-new-password-42")
        user.save()
        key = dict(chat.comm.scope["headers"])[b"cookie"].decode().split("=", 1)[1]
        session = import_module(settings.SESSION_ENGINE).SessionStore(key)
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()

    await change_password_in_the_first_session()
    await _closed_with(other, 4403)
    await chat.send({"type": "ping"})
    await chat.recv_type("pong")


async def test_deleting_the_session_on_the_server_closes_its_sockets(
    open_chat, alice, bob, quick_checks
):
    mine = await open_chat(alice)
    await mine.recv_type("welcome")
    theirs = await open_chat(bob)
    await theirs.recv_type("welcome")
    key = dict(mine.comm.scope["headers"])[b"cookie"].decode().split("=", 1)[1]
    await database_sync_to_async(lambda: Session.objects.filter(session_key=key).delete())()
    await _closed_with(mine, 4403)
    await theirs.send({"type": "ping"})  # bob's session is untouched
    await theirs.recv_type("pong")


# --- the Origin check ------------------------------------------------------------------


async def _handshake(user, host: str, origin: str) -> bool:
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application
    from tests.conftest import session_cookie

    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [
        (b"host", host.encode()),
        (b"origin", origin.encode()),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    comm = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=headers)
    connected, _ = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected


@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        ("127.0.0.1:19080", "http://127.0.0.1:19080", True),
        ("127.0.0.1:19080", "http://127.0.0.1:19090", False),  # another port of the host
        ("127.0.0.1:19080", "https://127.0.0.1:19080", False),  # another scheme
        ("localhost", "http://localhost", True),
        ("localhost", "http://localhost:80", True),
        ("localhost", "http://localhost:8080", False),
        ("localhost", "https://localhost:8443", False),
        ("localhost", "https://localhost", False),  # HTTPS is off: the site is http
        ("evil.example", "http://evil.example", False),  # not in ALLOWED_HOSTS
        ("localhost", "null", False),
        ("localhost", "http://localhost/path", False),
    ],
)
async def test_origin_must_be_the_sites_own_scheme_host_and_port(alice, host, origin, accepted):
    assert await _handshake(alice, host, origin) is accepted


async def test_https_sites_accept_only_https_origins(alice, settings):
    settings.HTTPS = True
    assert await _handshake(alice, "localhost", "https://localhost")
    assert not await _handshake(alice, "localhost", "http://localhost")


async def test_configured_origins_replace_the_default(alice, settings):
    settings.CHAT_ALLOWED_ORIGINS = ["https://chat.example.com"]
    assert await _handshake(alice, "internal:8000", "https://chat.example.com")
    assert await _handshake(alice, "internal:8000", "https://chat.example.com:443")
    assert not await _handshake(alice, "localhost", "http://localhost")
