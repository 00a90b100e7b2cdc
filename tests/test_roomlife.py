"""Room life over real sockets (WebsocketCommunicator): presence, typing, read markers and
unread counts, the live room list, the room's topic and the muted state in the welcome
(docs/protocol.md, "Version 2 additions")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from chat import selectors, services
from chat.models import Membership, ReadMarker, Room
from tests.conftest import Chat, session_cookie
from tests.support.accounts import make_user


@pytest.fixture(autouse=True)
def quick_counts(settings):
    settings.CHAT_UNREAD_INTERVAL_SECONDS = 0.05
    settings.CHAT_PRESENCE_GRACE_SECONDS = 0.1


async def opened(open_chat, user, room="lobby"):
    """A room socket with its welcome read, that shows room-life frames."""
    chat = await open_chat(user, room)
    welcome = await chat.recv_type("welcome")
    chat.skip = frozenset()
    return chat, welcome


async def home_of(user) -> Chat:
    from chatsite.asgi import application

    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    headers.append((b"cookie", f"sessionid={cookie}".encode()))
    home = Chat(WebsocketCommunicator(application, "/ws/chat/", headers=headers), life=True)
    assert (await home.connect())[0]
    await home.recv_type("hello")
    return home


async def next_of(chat: Chat, kind: str, **match) -> dict:
    """The next frame of type `kind` whose fields include `match` (others are read past)."""
    while True:
        frame = await chat.recv()
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def counts_of(chat: Chat, slug: str, last_seq: int) -> dict:
    """Room `slug`'s counts once they reach `last_seq`: from an `unread` frame, or from a
    `rooms` frame (a whole list, which carries every room's counts)."""
    while True:
        frame = await chat.recv()
        if frame["type"] == "unread" and frame["room"] == slug:
            found = [frame]
        elif frame["type"] == "rooms":
            found = [r for r in frame["rooms"] if r["slug"] == slug]
        else:
            continue
        if found and found[0]["last_seq"] == last_seq:
            return found[0]


@database_sync_to_async
def post(slug: str, user, count: int = 1, body: str = "hi") -> list[int]:
    room = Room.objects.get(slug=slug)
    return [
        services.post_message(room=room, user=user, body=body).message.seq for _ in range(count)
    ]


# --- presence ---------------------------------------------------------------------------


async def test_arrivals_and_departures_reach_the_others_and_two_tabs_count_once(
    open_chat, alice, bob
):
    a, welcome = await opened(open_chat, alice)
    assert welcome["present"] == ["alice"]
    b1, welcome = await opened(open_chat, bob)
    assert welcome["present"] == ["alice", "bob"]
    assert await next_of(a, "presence") == {"type": "presence", "user": "bob", "online": True}

    b2, _ = await opened(open_chat, bob)  # bob's second tab: he is online already
    await b1.close()  # ...and one tab closing leaves him online
    await a.send({"type": "ping"})
    assert (await a.recv())["type"] == "pong"  # no presence frame came before it
    assert await a.nothing(skip=frozenset())

    await b2.close()
    assert await next_of(a, "presence") == {"type": "presence", "user": "bob", "online": False}
    await a.close()


async def test_a_reload_within_the_grace_tells_nobody(open_chat, alice, bob, settings):
    settings.CHAT_PRESENCE_GRACE_SECONDS = 1.5
    a, _ = await opened(open_chat, alice)
    b, _ = await opened(open_chat, bob)
    await next_of(a, "presence", user="bob")
    await b.close()
    b, welcome = await opened(open_chat, bob)  # the page reloads
    assert welcome["present"] == ["alice", "bob"]
    assert await a.nothing(timeout=2, skip=frozenset())  # past the grace: still nothing
    await b.close()
    assert await next_of(a, "presence", user="bob") == {
        "type": "presence",
        "user": "bob",
        "online": False,
    }
    await a.close()


async def test_flapping_sockets_cost_the_room_two_frames(open_chat, alice, bob, settings):
    settings.CHAT_PRESENCE_GRACE_SECONDS = 1.0
    a, _ = await opened(open_chat, alice)
    for _ in range(10):  # a client opening and closing sockets in a loop
        b, _ = await opened(open_chat, bob)
        await b.close()
    told = []
    while not told or told[-1]:
        frame = await next_of(a, "presence", user="bob")
        told.append(frame["online"])
    assert told == [True, False]  # one arrival, one departure (after the grace)
    assert await a.nothing(timeout=0.5, skip=frozenset())
    await a.close()


async def test_nobody_is_told_of_their_own_arrival(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)
    b, _ = await opened(open_chat, bob)
    await next_of(a, "presence", user="bob")
    await b.send({"type": "ping"})
    assert (await b.recv())["type"] == "pong"
    assert await b.nothing(skip=frozenset())  # no presence of bob to bob
    await a.close()
    await b.close()


# --- typing -----------------------------------------------------------------------------


async def test_a_room_filling_at_once_sends_each_socket_one_frame_of_arrivals(
    open_chat, alice, monkeypatch
):
    """After a deploy every client of a room reconnects at once: each arrival as a frame of
    its own to everyone already there would cost a room of N about N x N frames. Arrivals
    that come together reach a socket as one `presence_changes` frame."""
    from chat import fanout

    monkeypatch.setattr(fanout, "LIFE_DELAY", 1.0)  # all four arrive within one flush
    a, _ = await opened(open_chat, alice)
    names = ["carol", "dave", "erin", "frank"]
    users = [await database_sync_to_async(make_user)(name) for name in names]
    others = [await open_chat(user) for user in users]
    frame = await next_of(a, "presence_changes")
    assert frame == {"type": "presence_changes", "online": names, "offline": []}
    assert await a.nothing(skip=frozenset())  # and no `presence` frame for each of them
    # The last one to join was told of nobody: it joined after the others' arrivals, and its
    # welcome's `present` already names them.
    last = others[-1]
    welcome = await last.recv_type("welcome")
    assert welcome["present"] == ["alice", *names]
    last.skip = frozenset()
    assert await last.nothing(skip=frozenset())
    await a.close()


async def test_typing_reaches_the_others_once_a_second_and_never_the_typist(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)
    b, _ = await opened(open_chat, bob)
    await next_of(a, "presence", user="bob")
    for _ in range(20):  # a flood
        await b.send({"type": "typing"})
    assert await next_of(a, "typing") == {"type": "typing", "user": "bob"}
    await b.send({"type": "ping"})
    assert (await b.recv())["type"] == "pong"  # all 20 were handled: no error, no echo
    await a.send({"type": "ping"})
    assert (await a.recv())["type"] == "pong"  # and alice got the one typing frame only
    await a.close()
    await b.close()


async def test_a_muted_user_is_not_shown_typing(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)  # alice created (owns) the room
    b, _ = await opened(open_chat, bob)
    await next_of(a, "presence", user="bob")
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    await services.mute_user.acall(room=room, actor=alice, user=bob, minutes=5)
    await b.send({"type": "typing"})
    await b.send({"type": "ping"})
    assert (await next_of(b, "pong"))["type"] == "pong"
    await a.send({"type": "ping"})
    frames = [await a.recv()]
    while frames[-1]["type"] != "pong":
        frames.append(await a.recv())
    assert "typing" not in [f["type"] for f in frames]
    await a.close()
    await b.close()


async def test_typing_needs_a_room(alice):
    home = await home_of(alice)
    await home.send({"type": "typing"})
    assert (await home.recv_type("error"))["code"] == "bad_request"
    await home.close()


# --- read markers and unread counts -------------------------------------------------------


@pytest.mark.parametrize("seq", ["5", -1, 1.5, True, None, 99])
async def test_a_bad_read_is_bad_request_and_changes_nothing(open_chat, alice, seq):
    a, _ = await opened(open_chat, alice)
    await post("lobby", alice, 3)
    await a.send(json.dumps({"type": "read", "seq": seq}))
    error = await next_of(a, "error")
    assert error["code"] == "bad_request"
    markers = await database_sync_to_async(
        lambda: list(ReadMarker.objects.values_list("last_read", flat=True))
    )()
    assert markers == [0]  # her own posts made her marker; the read did not move it
    await a.close()


async def test_reading_clears_the_count_on_every_other_socket(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)
    await post("lobby", bob, 3)
    home = await home_of(alice)  # hello counts what is unread now
    b, welcome = await opened(open_chat, bob)
    assert welcome["last_read"] == 0  # his posts are not unread to him, but not read either
    await a.send({"type": "read", "seq": 2})
    counts = await next_of(home, "unread", room="lobby", last_read=2)
    assert counts == {
        "type": "unread",
        "room": "lobby",
        "last_seq": 3,
        "last_read": 2,
        "unread": 1,
        "mentions": 0,
    }
    assert (await next_of(a, "unread"))["last_read"] == 2  # the reading socket too
    await a.send({"type": "read", "seq": 1})  # lower: nothing changes, nobody is told
    await a.send({"type": "read", "seq": 3})
    assert (await next_of(home, "unread"))["unread"] == 0
    marker = await database_sync_to_async(ReadMarker.objects.get)(user=alice)
    assert marker.last_read == 3
    a2, welcome = await opened(open_chat, alice)
    assert welcome["last_read"] == 3  # where the "new messages" divider goes
    for chat in (a, a2, b, home):
        await chat.close()


async def test_new_messages_count_on_the_users_other_sockets_only(open_chat, alice, bob):
    await database_sync_to_async(services.create_room)(slug="den", user=alice)
    home = await home_of(alice)
    in_lobby, _ = await opened(open_chat, alice, "lobby")
    await post("den", bob, 2)
    await post("den", alice, 1)  # her own: never unread to her
    counts = await counts_of(home, "den", 3)
    assert (counts["unread"], counts["last_read"]) == (2, 0)
    assert (await counts_of(in_lobby, "den", 3))["unread"] == 2

    in_den, _ = await opened(open_chat, alice, "den")
    await post("den", bob, 1)
    assert (await counts_of(home, "den", 4))["unread"] == 3
    await in_den.send({"type": "ping"})
    frames = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(await in_den.recv())
    # The den socket has the message itself, not a count of it.
    assert [f for f in frames if f["type"] == "unread" and f["room"] == "den"] == []
    for chat in (home, in_lobby, in_den):
        await chat.close()


@pytest.mark.django_db(transaction=True)
def test_counts_come_from_seqs_and_skip_own_and_deleted_messages():
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    room = services.create_room(slug="den", user=alice)
    for who in (alice, bob, bob, alice, bob):  # seqs 1..5
        services.post_message(room=room, user=who, body="x")
    services.mark_read(room=room, user=carol, seq=1)
    services.delete_message(room=room, actor=alice, seq=2)  # bob's, above carol's marker
    services.delete_message(room=room, actor=alice, seq=4)  # alice's own
    counts = {u.username: selectors.room_summaries(u)[0][1] for u in (alice, bob, carol)}
    assert counts["alice"].unread == 2  # 2 and 4 gone; 1, 4 hers; 3, 5 are bob's
    assert counts["bob"].unread == 1  # alice's 1 (her 4 is deleted)
    assert counts["carol"].unread == 2  # above 1: 2 and 4 deleted, 3 and 5 left
    dave = make_user("dave")  # never opened it: every message but the deleted ones
    assert selectors.room_summaries(dave)[0][1].unread == 3
    services.mark_read(room=room, user=carol, seq=3)
    assert selectors.room_summaries(carol)[0][1].unread == 1  # recounted above 3: just 5
    services.mark_read(room=room, user=dave, seq=5)
    assert selectors.room_summaries(dave)[0][1].unread == 0


# --- the live room list -------------------------------------------------------------------


async def test_a_new_room_and_a_deleted_one_reach_every_room_list(open_chat, alice, bob):
    home = await home_of(bob)
    b, _ = await opened(open_chat, bob)
    room = await database_sync_to_async(services.new_room)(user=alice, title="Design Review")
    for chat in (home, b):
        rooms = await next_of(chat, "rooms")
        assert "design-review" in [r["slug"] for r in rooms["rooms"]]
    staff = await database_sync_to_async(make_user)("root", is_staff=True)
    await services.delete_room.acall(room=room, actor=staff)
    rooms = await next_of(home, "rooms")
    assert "design-review" not in [r["slug"] for r in rooms["rooms"]]
    await home.close()
    await b.close()


# --- the room header and the composer -------------------------------------------------------


async def test_moderators_set_the_topic_and_everyone_in_the_room_sees_it(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)
    b, _ = await opened(open_chat, bob)
    await b.send({"type": "room_settings", "topic": "mine now"})
    assert (await next_of(b, "error"))["code"] == "forbidden"
    await a.send({"type": "room_settings", "topic": "  Weekly   design\nreview  "})
    updated = await next_of(b, "room_updated")
    assert updated["room"]["topic"] == "Weekly design review"
    await a.send({"type": "room_settings", "topic": "x" * 201})
    assert (await next_of(a, "error"))["code"] == "bad_request"
    b2, welcome = await opened(open_chat, bob)
    assert welcome["room"]["topic"] == "Weekly design review"
    for chat in (a, b, b2):
        await chat.close()


async def test_the_welcome_says_when_a_user_is_muted(open_chat, alice, bob):
    a, _ = await opened(open_chat, alice)
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    await services.mute_user.acall(room=room, actor=alice, user=bob, minutes=5)
    b, welcome = await opened(open_chat, bob)
    until = await database_sync_to_async(lambda: Membership.objects.get(user=bob).muted_until)()
    assert welcome["muted_until"] == until.isoformat(timespec="microseconds")
    assert until > timezone.now() + timedelta(minutes=4)
    assert "muted_until" not in (await opened(open_chat, alice))[1]
    await a.close()
    await b.close()
