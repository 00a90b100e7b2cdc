"""The two streams: a room's, and a user's (every open socket of that user: room sockets
and the home socket ws/chat/), and the ephemeral path that skips a user."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import fanout, protocol, services
from tests.conftest import Chat, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def open_home(user=None, origin: str = "http://localhost") -> tuple[Chat, bool]:
    from chatsite.asgi import application

    headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    chat = Chat(WebsocketCommunicator(application, "/ws/chat/", headers=headers))
    connected, _ = await chat.connect()
    return chat, connected


async def test_the_home_socket_says_hello_with_the_rooms(alice):
    await database_sync_to_async(services.create_room)(slug="den", user=alice, title="The Den")
    home, connected = await open_home(alice)
    assert connected
    hello = await home.recv_type("hello")
    assert hello["user"] == "alice"
    assert hello["rooms"] == [
        {
            "slug": "den",
            "title": "The Den",
            "private": False,
            "dm": False,
            "last_seq": 0,
            "last_read": 0,
            "unread": 0,
            "mentions": 0,
        }
    ]
    await home.send({"type": "ping"})
    assert await home.recv_type("pong") == {"type": "pong"}
    await home.close()


@pytest.mark.parametrize("frame", ["hello", {"type": "history"}, {"type": "ban", "user": "x"}])
async def test_room_commands_on_the_home_socket_are_bad_request(alice, frame):
    home, _ = await open_home(alice)
    await home.recv_type("hello")
    await home.send(frame)
    error = await home.recv_type("error")
    assert error["code"] == "bad_request" and "needs a room" in error["detail"]
    await home.close()


async def test_the_home_socket_refuses_anonymous_and_foreign_origins(alice):
    assert not (await open_home(None))[1]
    assert not (await open_home(alice, origin="http://evil.example"))[1]


async def test_a_user_event_reaches_every_socket_of_that_user_only(open_chat, alice, bob):
    home, _ = await open_home(alice)
    await home.recv_type("hello")
    in_room = await open_chat(alice, "lobby")
    await in_room.recv_type("welcome")
    other_room = await open_chat(alice, "den")
    await other_room.recv_type("welcome")
    bobs = await open_chat(bob, "lobby")
    await bobs.recv_type("welcome")

    text = protocol.encode({"type": "unread", "room": "den", "unread": 1})
    await fanout.publish([fanout.user_event(alice.pk, text)])
    for chat in (home, in_room, other_room):
        assert await chat.recv_type("unread") == json.loads(text)
    assert await bobs.nothing(skip=frozenset({"presence"}))
    await home.close()


async def test_closing_a_users_sockets_closes_the_home_socket_too(alice):
    home, _ = await open_home(alice)
    await home.recv_type("hello")
    await database_sync_to_async(services.disconnect_user)(user=alice)
    closed = await home.comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert type(closed["code"]) is int  # daphne's autobahn refuses an IntEnum
    await home.close()


async def test_an_ephemeral_room_event_skips_its_user(open_chat, alice, bob):
    mine = await open_chat(alice, "lobby")
    await mine.recv_type("welcome")
    theirs = await open_chat(bob, "lobby")
    await theirs.recv_type("welcome")
    text = protocol.encode({"type": "typing", "user": "alice"})
    await fanout.publish([fanout.room_event("lobby", text, skip_user=alice.pk)])
    assert await theirs.recv_type("typing") == {"type": "typing", "user": "alice"}
    assert await mine.nothing(skip=frozenset({"presence"}))
