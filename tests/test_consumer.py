"""The WebSocket protocol (docs/protocol.md), frame by frame, over the full ASGI application
(origin check, session auth, routing) with channels' WebsocketCommunicator."""

from __future__ import annotations

import json
import sqlite3

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from chat import services
from chat.models import Message, Room
from tests.support.accounts import make_user
from tests.support.processes import base_env, manage

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def user(name: str, **extra):
    return make_user(name, **extra)


@database_sync_to_async
def seed(slug: str, author, count: int, start: int = 1) -> None:
    """Post `count` messages "m<start>".. through the one write path."""
    room = services.create_room(slug=slug, user=author)
    for i in range(start, start + count):
        services.post_message(room=room, user=author, body=f"m{i}")


@database_sync_to_async
def stored(slug: str) -> list[tuple[int, str, str | None]]:
    return list(
        Message.objects.filter(room__slug=slug)
        .order_by("seq")
        .values_list("seq", "body", "client_id")
    )


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


@pytest.fixture
async def alice(transactional_db):
    return await user("alice")


@pytest.fixture
async def bob(transactional_db):
    return await user("bob")


# --- handshake --------------------------------------------------------------------------


async def test_welcome_in_a_new_room(open_chat, alice):
    chat = await open_chat(alice, "Lobby")
    welcome = await chat.recv_type("welcome")
    assert welcome == {
        "type": "welcome",
        "room": {
            "slug": "lobby",
            "title": "Lobby",
            "topic": "",
            "private": False,
            "dm": False,
            "locked": False,
            "slow_mode": 0,
        },
        "user": "alice",
        "last_seq": 0,
        "messages": [],
        "has_more": False,
        "present": ["alice"],  # she is here herself
        "last_read": 0,
        "moderator": True,  # she created the room, so she owns it
    }
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    assert room.created_by_id == alice.pk


async def test_welcome_carries_the_latest_50_oldest_first(open_chat, alice):
    await seed("lobby", alice, 120)
    chat = await open_chat(alice, "lobby")
    welcome = await chat.recv_type("welcome")
    assert welcome["last_seq"] == 120
    assert seqs(welcome["messages"]) == list(range(71, 121))
    assert welcome["has_more"] is True
    assert "has_more_after" not in welcome
    first = welcome["messages"][0]
    assert first["user"] == "alice" and first["body"] == "m71"
    assert first["edited_ts"] is None and first["deleted"] is False
    assert first["ts"].endswith("+00:00")
    assert "client_id" not in first


async def test_welcome_with_exactly_50_has_no_more(open_chat, alice):
    await seed("lobby", alice, 50)
    welcome = await (await open_chat(alice, "lobby")).recv_type("welcome")
    assert seqs(welcome["messages"]) == list(range(1, 51))
    assert welcome["has_more"] is False


async def test_anonymous_is_refused(open_chat, transactional_db):
    await open_chat(None, "lobby", expect_refused=True)
    assert await database_sync_to_async(Room.objects.count)() == 0  # nothing leaked or made


async def test_inactive_user_is_refused(open_chat, transactional_db):
    carol = await user("carol", is_active=False)
    await open_chat(carol, "lobby", expect_refused=True)


async def _handshake(cookie: str) -> bool:
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application

    headers = [
        (b"host", b"localhost"),
        (b"origin", b"http://localhost"),
        (b"cookie", cookie.encode()),
    ]
    comm = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=headers)
    connected, _ = await comm.connect()
    if connected:
        await comm.disconnect()
    return connected


async def test_a_session_from_before_a_password_change_is_refused_and_flushed(alice):
    from django.contrib.sessions.models import Session

    from tests.conftest import session_cookie

    key = await database_sync_to_async(session_cookie)(alice)
    assert await _handshake(f"theme=dark; sessionid={key}")  # among other cookies

    def change_password() -> None:
        alice.set_password("a-new-password-1")
        alice.save()

    await database_sync_to_async(change_password)()
    assert not await _handshake(f"sessionid={key}")
    assert not await database_sync_to_async(Session.objects.filter(session_key=key).exists)()


async def test_an_unknown_session_is_refused(alice):
    assert not await _handshake("sessionid=no-such-session-key")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.com"])
async def test_foreign_origin_is_refused(open_chat, alice, origin):
    await open_chat(alice, "lobby", origin=origin, expect_refused=True)


async def test_missing_origin_is_refused(open_chat, alice):
    await open_chat(alice, "lobby", origin=None, expect_refused=True)


@pytest.mark.parametrize("slug", ["", "a" * 51, "caf%C3%A9", "a.b", "a%20b", "%2E%2E"])
async def test_bad_slug_is_refused(open_chat, alice, slug):
    await open_chat(alice, slug, expect_refused=True)
    assert await database_sync_to_async(Room.objects.count)() == 0


async def test_unknown_path_is_refused(alice):
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application
    from tests.conftest import session_cookie

    cookie = await database_sync_to_async(session_cookie)(alice)
    headers = [
        (b"host", b"localhost"),
        (b"origin", b"http://localhost"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    for path in ("/ws/other/", "/ws/chat/a/b/", "/"):
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await comm.connect()
        assert not connected, path


async def test_unknown_room_refused_when_auto_create_is_off(open_chat, alice, settings):
    settings.CHAT_AUTO_CREATE_ROOMS = False
    await open_chat(alice, "nowhere", expect_refused=True)
    assert await database_sync_to_async(Room.objects.count)() == 0
    await seed("existing", alice, 1)
    welcome = await (await open_chat(alice, "existing")).recv_type("welcome")
    assert welcome["last_seq"] == 1


# --- messages ---------------------------------------------------------------------------


async def test_json_message_is_stored_and_echoed_to_the_sender(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "message", "body": "  hi  ", "client_id": "c-1"})
    frame = await chat.recv_type("message")
    msg = frame["message"]
    assert msg["seq"] == 1 and msg["user"] == "alice" and msg["body"] == "hi"
    assert msg["client_id"] == "c-1" and msg["deleted"] is False and msg["edited_ts"] is None
    assert await stored("lobby") == [(1, "hi", "c-1")]


@pytest.mark.parametrize(
    "text", ["Hello, world!", "42", '"a JSON string"', "[1, 2, 3]", "null", "{not json", "true"]
)
async def test_non_object_text_frames_are_messages_with_the_raw_text(open_chat, alice, text):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(text)
    frame = await chat.recv_type("message")
    assert frame["message"]["body"] == text
    assert "client_id" not in frame["message"]
    assert await stored("lobby") == [(1, text, None)]


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
async def test_empty_body(open_chat, alice, body):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "message", "body": body, "client_id": "c-e"})
    error = await chat.recv_type("error")
    assert error["code"] == "empty" and error["client_id"] == "c-e" and error["detail"]
    await chat.send("   ")  # a blank plain-text frame, too
    error = await chat.recv_type("error")
    assert error["code"] == "empty" and "client_id" not in error
    assert await stored("lobby") == []


async def test_too_long_body_echoes_the_client_id(open_chat, alice, settings):
    settings.CHAT_MAX_MESSAGE_LENGTH = 20
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "message", "body": "x" * 21, "client_id": "c-long"})
    error = await chat.recv_type("error")
    assert error["code"] == "too_long" and error["client_id"] == "c-long"
    assert "20" in error["detail"]
    await chat.send({"type": "message", "body": "x" * 20, "client_id": "c-ok"})
    assert (await chat.recv_type("message"))["message"]["seq"] == 1
    assert await stored("lobby") == [(1, "x" * 20, "c-ok")]


async def test_default_body_limit_is_4000(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "message", "body": "x" * 4001})
    assert (await chat.recv_type("error"))["code"] == "too_long"
    await chat.send({"type": "message", "body": "x" * 4000})
    assert len((await chat.recv_type("message"))["message"]["body"]) == 4000


async def test_frame_over_64_kib_is_too_long_and_the_connection_stays(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    big = json.dumps({"type": "message", "body": "x" * (64 * 1024), "client_id": "c-big"})
    await chat.send(big)
    error = await chat.recv_type("error")
    assert error["code"] == "too_long"
    await chat.send("é" * (33 * 1024))  # 66 KiB of UTF-8 in 33 K characters
    assert (await chat.recv_type("error"))["code"] == "too_long"
    await chat.send({"type": "ping"})
    await chat.recv_type("pong")
    assert await stored("lobby") == []


async def test_resend_of_a_client_id_answers_the_sender_only(open_chat, alice, bob):
    a = await open_chat(alice)
    b = await open_chat(bob)
    await a.recv_type("welcome")
    await b.recv_type("welcome")
    await a.send({"type": "message", "body": "once", "client_id": "c-1"})
    first = await a.recv_type("message")
    assert (await b.recv_type("message")) == first
    await a.send({"type": "message", "body": "once", "client_id": "c-1"})
    again = await a.recv_type("message")
    assert again == first
    assert await b.nothing()
    assert await stored("lobby") == [(1, "once", "c-1")]


async def test_binary_frame_is_bad_request_and_the_connection_stays(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.comm.send_to(bytes_data=b"\x00\x01hello")
    assert (await chat.recv_type("error"))["code"] == "bad_request"
    await chat.send("still here")
    assert (await chat.recv_type("message"))["message"]["body"] == "still here"


@pytest.mark.parametrize(
    ("frame", "echo"),
    [
        ({"type": "shout", "body": "x", "client_id": "c-u"}, "c-u"),  # unknown type
        ({"body": "x", "client_id": "c-m"}, "c-m"),  # missing type
        ({"type": 7}, None),
        ({"type": "message"}, None),  # no body
        ({"type": "message", "body": 5, "client_id": "c-n"}, "c-n"),  # non-string body
        ({"type": "message", "body": None}, None),
        ({"type": "message", "body": ["x"]}, None),
        ({"type": "message", "body": "x", "client_id": ""}, None),  # bad client_ids
        ({"type": "message", "body": "x", "client_id": "c" * 65}, None),
        ({"type": "message", "body": "x", "client_id": 12}, None),
    ],
)
async def test_malformed_commands_are_bad_request(open_chat, alice, frame, echo):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(frame)
    error = await chat.recv_type("error")
    assert error["code"] == "bad_request" and error["detail"]
    assert error.get("client_id") == echo
    assert await stored("lobby") == []
    await chat.send({"type": "ping"})
    await chat.recv_type("pong")


async def test_client_id_of_64_characters_is_accepted(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "message", "body": "x", "client_id": "c" * 64})
    assert (await chat.recv_type("message"))["message"]["client_id"] == "c" * 64


async def test_ping_pong_carries_the_rooms_last_seq(open_chat, alice):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "ping"})
    assert await chat.recv_type("pong") == {"type": "pong", "last_seq": 0}
    await chat.send("one")
    await chat.recv_type("message")
    await chat.send({"type": "ping"})
    assert await chat.recv_type("pong") == {"type": "pong", "last_seq": 1}


@pytest.fixture
def no_refresh(settings):
    """No periodic fan-out catch-up during the test, so what it shows is the gap fill."""
    settings.CHAT_FANOUT_REFRESH_SECONDS = 3600


def post_from_another_process(slug: str, username: str, body: str) -> None:
    """Post through the one write path in a separate process with its own in-memory channel
    layer: the message is stored, but its broadcast never reaches this process (as when a
    server crashes between commit and publish)."""
    code = (
        "from django.contrib.auth import get_user_model; from chat import services;"
        f"u = get_user_model().objects.get(username={username!r});"
        f"r = services.create_room(slug={slug!r}, user=u);"
        f"services.post_message(room=r, user=u, body={body!r})"
    )
    manage(base_env(DATABASE_URL=this_tests_database_url()), "shell", "-c", code)


def this_tests_database_url() -> str:
    """The URL of the database this test runs on, for another process."""
    db = connections["default"].settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


async def test_pong_reveals_a_message_whose_broadcast_was_lost(open_chat, alice, no_refresh):
    chat = await open_chat(alice)
    assert (await chat.recv_type("welcome"))["last_seq"] == 0
    await database_sync_to_async(post_from_another_process)("lobby", "alice", "unheard")
    assert await chat.nothing(0.3)
    await chat.send({"type": "ping"})
    pong = await chat.recv_type("pong")
    assert pong["last_seq"] == 1  # the client now knows it misses seq 1 and asks for it
    await chat.send({"type": "history", "after": 0})
    assert [m["body"] for m in (await chat.recv_type("history"))["messages"]] == ["unheard"]


async def test_a_lost_broadcast_is_filled_in_before_the_next_message(
    open_chat, alice, bob, no_refresh
):
    a = await open_chat(alice)
    b = await open_chat(bob)
    await a.recv_type("welcome")
    await b.recv_type("welcome")
    await database_sync_to_async(post_from_another_process)("lobby", "alice", "unheard")
    await a.send("heard")
    for chat in (a, b):
        first = (await chat.recv_type("message"))["message"]
        second = (await chat.recv_type("message"))["message"]
        assert [(first["seq"], first["body"]), (second["seq"], second["body"])] == [
            (1, "unheard"),
            (2, "heard"),
        ]
        assert await chat.nothing()


# --- broadcast --------------------------------------------------------------------------


async def test_two_connections_in_a_room_both_receive_and_another_room_nothing(
    open_chat, alice, bob
):
    a = await open_chat(alice, "lobby")
    b = await open_chat(bob, "lobby")
    other = await open_chat(bob, "elsewhere")
    for chat in (a, b, other):
        await chat.recv_type("welcome")
    await b.send({"type": "message", "body": "from bob", "client_id": "b-1"})
    await a.send("from alice")
    for chat in (a, b):
        first = await chat.recv_type("message")
        second = await chat.recv_type("message")
        assert [first["message"]["seq"], second["message"]["seq"]] == [1, 2]
        assert {first["message"]["body"], second["message"]["body"]} == {"from bob", "from alice"}
    assert await other.nothing(0.3)
    assert await stored("elsewhere") == []


async def test_same_user_on_two_sockets_gets_each_message_once(open_chat, alice):
    a1 = await open_chat(alice)
    a2 = await open_chat(alice)
    await a1.recv_type("welcome")
    await a2.recv_type("welcome")
    await a1.send("one")
    for chat in (a1, a2):
        assert (await chat.recv_type("message"))["message"]["seq"] == 1
        assert await chat.nothing()


async def test_a_later_joiner_gets_history_in_welcome_then_live(open_chat, alice, bob):
    a = await open_chat(alice)
    await a.recv_type("welcome")
    await a.send("before bob")
    await a.recv_type("message")
    b = await open_chat(bob)
    welcome = await b.recv_type("welcome")
    assert [m["body"] for m in welcome["messages"]] == ["before bob"]
    await a.send("after bob")
    assert (await b.recv_type("message"))["message"]["seq"] == 2
    assert await b.nothing()


# --- history ----------------------------------------------------------------------------


async def test_history_before_and_after(open_chat, alice):
    await seed("lobby", alice, 120)
    chat = await open_chat(alice)
    await chat.recv_type("welcome")

    await chat.send({"type": "history", "before": 71})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(21, 71)) and page["has_more"] is True
    await chat.send({"type": "history", "before": 21, "limit": 100})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(1, 21)) and page["has_more"] is False
    await chat.send({"type": "history", "before": 11, "limit": 10})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(1, 11)) and page["has_more"] is False
    await chat.send({"type": "history", "before": 1})
    page = await chat.recv_type("history")
    assert page["messages"] == [] and page["has_more"] is False

    await chat.send({"type": "history", "after": 0, "limit": 100})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(1, 101)) and page["has_more"] is True
    await chat.send({"type": "history", "after": 100, "limit": 100})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(101, 121)) and page["has_more"] is False
    await chat.send({"type": "history", "after": 110, "limit": 10})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == list(range(111, 121)) and page["has_more"] is False
    await chat.send({"type": "history", "after": 120})
    page = await chat.recv_type("history")
    assert page == {"type": "history", "messages": [], "has_more": False}
    # Neither: the latest page.
    await chat.send({"type": "history", "limit": 5})
    page = await chat.recv_type("history")
    assert seqs(page["messages"]) == [116, 117, 118, 119, 120] and page["has_more"] is True
    assert page["messages"][-1]["body"] == "m120"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "history", "before": 5, "limit": 0},
        {"type": "history", "before": 5, "limit": 101},
        {"type": "history", "before": 5, "limit": "10"},
        {"type": "history", "before": 5, "limit": 1.5},
        {"type": "history", "before": 5, "limit": True},
        {"type": "history", "before": 5, "limit": None},
        {"type": "history", "before": -1},
        {"type": "history", "after": "3"},
        {"type": "history", "after": 2.0},
        {"type": "history", "before": 10, "after": 2},
    ],
)
async def test_bad_history_commands(open_chat, alice, frame):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(frame)
    error = await chat.recv_type("error")
    assert error["code"] == "bad_request" and error["detail"]
    await chat.send({"type": "ping"})
    await chat.recv_type("pong")


# --- resume -----------------------------------------------------------------------------


async def test_resume_with_since(open_chat, alice):
    await seed("lobby", alice, 30)
    chat = await open_chat(alice, since=25)
    welcome = await chat.recv_type("welcome")
    assert seqs(welcome["messages"]) == [26, 27, 28, 29, 30]
    assert welcome["has_more_after"] is False
    assert welcome["has_more"] is True  # older ones exist
    assert welcome["last_seq"] == 30

    up_to_date = await open_chat(alice, since=30)
    welcome = await up_to_date.recv_type("welcome")
    assert welcome["messages"] == [] and welcome["has_more_after"] is False

    from_start = await open_chat(alice, since=0)
    welcome = await from_start.recv_type("welcome")
    assert seqs(welcome["messages"]) == list(range(1, 31)) and welcome["has_more"] is False


async def test_resume_of_more_than_500_pages_through_history_after(open_chat, alice):
    await seed("lobby", alice, 620)
    chat = await open_chat(alice, since=10)
    welcome = await chat.recv_type("welcome")
    assert seqs(welcome["messages"]) == list(range(11, 511))
    assert welcome["has_more_after"] is True
    assert welcome["last_seq"] == 620
    got = seqs(welcome["messages"])
    more = True
    while more:
        await chat.send({"type": "history", "after": got[-1], "limit": 100})
        page = await chat.recv_type("history")
        got += seqs(page["messages"])
        more = page["has_more"]
    assert got == list(range(11, 621))


async def test_live_messages_after_a_resume_continue_from_last_seq(open_chat, alice, bob):
    await seed("lobby", alice, 3)
    b = await open_chat(bob, since=1)
    assert seqs((await b.recv_type("welcome"))["messages"]) == [2, 3]
    a = await open_chat(alice)
    await a.recv_type("welcome")
    await a.send("live")
    assert (await b.recv_type("message"))["message"]["seq"] == 4
    assert await b.nothing()


# --- the database fails -----------------------------------------------------------------


@pytest.fixture
async def short_db_timeout(monkeypatch):
    """Database connections wait at most 0.3 s for SQLite's write lock (the site waits
    20 s), so a held lock makes a write fail quickly. SQLite connections persist, so the
    one on the consumers' database thread is reopened with the short timeout, and again
    with the normal one afterwards."""
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("locks the SQLite file (PostgreSQL: test_e2e.py cuts the database instead)")
    reopen = database_sync_to_async(lambda: connections["default"].close())
    monkeypatch.setitem(db["OPTIONS"], "timeout", 0.3)
    await reopen()
    yield db["NAME"]
    monkeypatch.undo()
    await reopen()


async def test_unavailable_when_the_database_is_locked(open_chat, alice, bob, short_db_timeout):
    a = await open_chat(alice)
    b = await open_chat(bob)
    await a.recv_type("welcome")
    await b.recv_type("welcome")
    # Another process-like connection holds the write lock past the timeout.
    blocker = sqlite3.connect(short_db_timeout, timeout=5, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        await a.send({"type": "message", "body": "important", "client_id": "c-1"})
        error = await a.recv_type("error", timeout=10)
        assert error["code"] == "unavailable" and error["client_id"] == "c-1"
        assert await b.nothing(0.3)  # nothing was broadcast
        await a.send({"type": "ping"})  # the socket is still served
        await a.recv_type("pong")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await stored("lobby") == []
    await a.send({"type": "message", "body": "important", "client_id": "c-1"})
    for chat in (a, b):
        msg = (await chat.recv_type("message"))["message"]
        assert (msg["seq"], msg["body"], msg["client_id"]) == (1, "important", "c-1")
    await a.send({"type": "message", "body": "important", "client_id": "c-1"})
    assert (await a.recv_type("message"))["message"]["seq"] == 1
    assert await b.nothing()
    assert await stored("lobby") == [(1, "important", "c-1")]


# --- odd numbers from the client --------------------------------------------------------


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "%C2%B2", "9" * 30])
async def test_a_since_that_is_not_a_seq_gives_a_plain_welcome(open_chat, alice, since):
    """A `since` the server cannot use is ignored (the latest page), never a server error."""
    await seed("lobby", alice, 3)
    chat = await open_chat(alice, since=since)
    welcome = await chat.recv_type("welcome")
    assert seqs(welcome["messages"]) == [1, 2, 3]
    assert "has_more_after" not in welcome


@pytest.mark.parametrize("field", ["before", "after"])
async def test_a_history_seq_too_large_for_the_database_is_bad_request(open_chat, alice, field):
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send({"type": "history", field: 2**63})
    error = await chat.recv_type("error")
    assert error["code"] == "bad_request"
    await chat.send({"type": "history", field: 2**63 - 1})
    assert (await chat.recv_type("history"))["messages"] == []


async def test_a_since_beyond_the_rooms_end_gets_no_messages_and_the_real_last_seq(
    open_chat, alice
):
    """(A client whose since is above last_seq has a stale seq, e.g. a room deleted and made
    again; the welcome's last_seq tells it.)"""
    await seed("lobby", alice, 3)
    welcome = await (await open_chat(alice, since=50)).recv_type("welcome")
    assert welcome["messages"] == [] and welcome["last_seq"] == 3
    assert welcome["has_more_after"] is False


async def test_broadcasts_published_out_of_order_arrive_in_seq_order_once(
    open_chat, alice, no_refresh
):
    """Two processes store seqs 1 and 2 and their broadcasts arrive as 2, then 1: every
    socket gets 1, 2, once each (1 is read from the database when 2 arrives; the late 1 is
    dropped)."""
    from chat import fanout, protocol

    a = await open_chat(alice)
    b = await open_chat(alice)
    await a.recv_type("welcome")
    await b.recv_type("welcome")
    for body in ("first", "second"):  # stored; their own broadcasts go nowhere
        await database_sync_to_async(post_from_another_process)("lobby", "alice", body)
    rows = await database_sync_to_async(list)(
        Message.objects.filter(room__slug="lobby").select_related("author").order_by("seq")
    )
    events = [fanout.messages_event("lobby", [(m.seq, protocol.message_frame(m))]) for m in rows]
    await fanout.publish(list(reversed(events)))
    for chat in (a, b):
        got = [(await chat.recv_type("message"))["message"]["body"] for _ in range(2)]
        assert got == ["first", "second"]
        assert await chat.nothing()


async def test_a_resend_of_a_stored_message_is_not_rate_limited(open_chat, alice, settings):
    """After a reconnect a client resends its whole outbox; those already stored are not new
    messages, so they are acknowledged at once instead of waiting on the rate limit."""
    settings.CHAT_RATE_LIMIT_BURST = 2
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.01
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    for n in (1, 2):
        await chat.send({"type": "message", "body": f"m{n}", "client_id": f"c-{n}"})
        assert (await chat.recv_type("message"))["message"]["seq"] == n
    await chat.send({"type": "message", "body": "m3", "client_id": "c-3"})
    error = await chat.recv_type("error")
    assert error["code"] == "rate_limited" and error["client_id"] == "c-3"
    for n in (1, 2):
        await chat.send({"type": "message", "body": f"m{n}", "client_id": f"c-{n}"})
        assert (await chat.recv_type("message"))["message"]["client_id"] == f"c-{n}"
    assert await stored("lobby") == [(1, "m1", "c-1"), (2, "m2", "c-2")]


async def test_deeply_nested_json_is_a_plain_message_not_a_server_error(open_chat, alice):
    """A JSON array nested past the parser's recursion limit is still just a text frame
    that is not a JSON object: a message with the raw text."""
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    text = "[" * 1500 + "]" * 1500
    await chat.send(text)
    assert (await chat.recv_type("message"))["message"]["body"] == text
    assert await stored("lobby") == [(1, text, None)]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "body": "a\u0000b", "client_id": "c-x"},  # PostgreSQL refuses NUL
        {"type": "message", "body": "a\ud800b", "client_id": "c-x"},  # a lone surrogate
        {"type": "message", "body": "ok", "client_id": "c\u0000"},
        {"type": "message", "body": "ok", "client_id": "c\udfff"},
    ],
)
async def test_text_no_database_can_store_is_bad_request_not_unavailable(open_chat, alice, frame):
    """`unavailable` tells a client to retry; text that can never be stored must not get it,
    or the client retries forever."""
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    await chat.send(frame)
    error = await chat.recv_type("error")
    assert error["code"] == "bad_request", error
    await chat.send("a\x00b")  # the same in a plain-text frame
    assert (await chat.recv_type("error"))["code"] == "bad_request"
    assert await stored("lobby") == []


@database_sync_to_async
def seed_long(slug: str, author, count: int) -> None:
    room = services.create_room(slug=slug, user=author)
    for i in range(1, count + 1):
        services.post_message(room=room, user=author, body=f"{i} " + "€" * 3990)


async def test_long_messages_come_in_frames_a_client_can_take(open_chat, alice):
    """120 messages of ~12 KB each (1.4 MB): no welcome or history frame passes 1 MiB (the
    default limit of WebSocket clients); has_more / has_more_after lead to the rest."""
    await seed_long("lobby", alice, 120)
    limit = 1024 * 1024

    welcome_text = await (await open_chat(alice)).comm.receive_from(timeout=10)
    welcome = json.loads(welcome_text)
    assert len(welcome_text.encode()) < limit
    assert welcome["has_more"] and seqs(welcome["messages"])[-1] == 120
    assert len(welcome["messages"]) < 50  # cut to fit, newest kept

    chat = await open_chat(alice, since=0)
    first = json.loads(await chat.comm.receive_from(timeout=10))
    got = seqs(first["messages"])
    assert first["has_more_after"] and got == list(range(1, len(got) + 1))
    while got[-1] < 120:
        await chat.send({"type": "history", "after": got[-1], "limit": 100})
        text = await chat.comm.receive_from(timeout=10)
        assert len(text.encode()) < limit
        page = json.loads(text)
        got += seqs(page["messages"])
        assert page["has_more"] == (got[-1] < 120)
    assert got == list(range(1, 121))


async def test_frames_sent_without_waiting_are_all_handled_in_order(
    open_chat, alice, bob, settings
):
    """A client may send many frames without waiting for answers (an outbox flushed after a
    reconnect). The server stores the posts it has queued together, and still answers every
    frame in the order sent: all posts stored 1..N in order, one error for the bad frame, a
    pong that counts the posts sent before the ping, the resend answered with the stored
    message."""
    settings.CHAT_RATE_LIMIT_BURST = 1000
    chat = await open_chat(alice)
    await chat.recv_type("welcome")
    watcher = await open_chat(bob)
    await watcher.recv_type("welcome")
    bodies = []
    for i in range(120):
        if i == 40:
            await chat.comm.send_to(bytes_data=b"\x00")
        elif i == 80:
            await chat.send({"type": "ping"})
        elif i == 100:
            await chat.send({"type": "message", "body": "again", "client_id": "c-0"})
        else:
            bodies.append(f"m{i}")
            await chat.send({"type": "message", "body": f"m{i}", "client_id": f"c-{i}"})
    mine, errors, pongs = [], [], []
    while len(mine) < len(bodies) + 1 or not errors or not pongs:
        frame = await chat.recv()
        {"message": mine, "error": errors, "pong": pongs}[frame["type"]].append(frame)
    seen = [m["message"]["seq"] for m in mine]
    assert sorted(seen) == [1, *range(1, len(bodies) + 1)]  # every post once, and the resend
    new = list({m["message"]["seq"]: m["message"] for m in mine}.values())  # in first-seen order
    assert [m["body"] for m in new] == bodies and seqs(new) == list(range(1, len(bodies) + 1))
    assert [e["code"] for e in errors] == ["bad_request"]
    assert pongs[0]["last_seq"] >= 79  # the 79 posts sent before the ping are stored
    theirs = [(await watcher.recv_type("message"))["message"] for _ in bodies]
    assert [m["body"] for m in theirs] == bodies
    assert await stored("lobby") == [(i + 1, b, f"c-{b[1:]}") for i, b in enumerate(bodies)]
