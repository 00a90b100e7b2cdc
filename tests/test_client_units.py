"""The terminal client's parts (chat/client/): ordering, outbox, backoff, lines, arguments,
and its Session against a scripted websockets server in this process (reconnect with
since, resend by client_id, gap fills, closes that end it, refusals)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from websockets.asyncio.server import serve

from chat.client.__main__ import parse_args
from chat.client.delivery import FINAL_CODES, Outbox, SeqOrder, backoff_delay
from chat.client.display import Display, JsonDisplay, clean, format_message
from chat.client.session import Exit, Session, State, room_url
from chat.errors import ErrorCode


def msg(seq: int, user: str = "bob", body: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "user": user,
        "body": body if body is not None else f"message {seq}",
        "ts": "2026-12-03T10:15:00.123456+00:00",
        "edited_ts": None,
        "deleted": False,
        "reactions": [],
        **extra,
    }


# --- backoff ----------------------------------------------------------------------------


def test_backoff_is_equal_jitter_doubling_from_half_a_second_to_30():
    assert backoff_delay(0, lambda: 0.0) == 0.25
    assert backoff_delay(0, lambda: 1.0) == 0.5
    assert backoff_delay(1, lambda: 0.0) == 0.5
    assert backoff_delay(3, lambda: 1.0) == 4.0
    assert backoff_delay(6, lambda: 0.0) == 15.0  # 32 s capped at 30: between 15 and 30
    assert backoff_delay(6, lambda: 1.0) == 30.0
    assert backoff_delay(10_000, lambda: 0.5) == 22.5  # no overflow however long it lasts


# --- SeqOrder -----------------------------------------------------------------------------


def test_seq_order_shows_in_order_drops_duplicates_and_holds_past_a_gap():
    order = SeqOrder()
    assert order.take([msg(1), msg(2)]) == ([msg(1), msg(2)], [])
    display, known = order.take([msg(2), msg(4)])  # a duplicate, and a jump over 3
    assert (display, known, order.last, order.gap) == ([], [msg(2)], 2, True)
    display, known = order.take([msg(3)])  # the gap filled: 3 and the held 4
    assert ([m["seq"] for m in display], order.last, order.gap) == ([3, 4], 4, False)
    assert order.take([{"seq": "5"}, {"body": "no seq"}]) == ([], [])  # not messages


def test_seq_order_skips_a_purged_gap_only_when_a_page_proves_it():
    order = SeqOrder(10)
    order.take([msg(20)])
    assert order.skip_purged(10, []) == 0  # an empty page proves nothing
    assert order.skip_purged(12, [msg(20)]) == 0  # a page from above last proves nothing
    assert order.skip_purged(10, [msg(15), msg(16)]) == 4  # 11..14 were purged
    assert order.last == 14
    assert [m["seq"] for m in order.take([msg(15), msg(16)])[0]] == [15, 16]
    assert order.gap  # 20 still waits for 17..19


# --- Outbox -------------------------------------------------------------------------------


def test_outbox_keeps_posts_until_their_own_message_comes_back():
    outbox = Outbox(ack_timeout=5)
    a, b = outbox.add("a"), outbox.add("b")
    assert a.client_id != b.client_id and len(a.client_id) <= 64
    assert outbox.due(0) == [a, b]
    a.sent_at = b.sent_at = 1.0
    assert outbox.due(5.9) == []
    assert outbox.due(6.1) == [a, b]  # no acknowledgement within ack_timeout: again
    # Someone else's message with the same client_id acknowledges nothing.
    assert outbox.acknowledge([msg(7, "mallory", client_id=a.client_id)], "alice") == []
    assert outbox.acknowledge([msg(7, "alice", client_id=a.client_id)], "alice") == [a]
    assert list(outbox.posts) == [b.client_id]


@pytest.mark.parametrize("code", sorted(FINAL_CODES))
def test_outbox_drops_a_post_on_a_final_refusal(code):
    outbox = Outbox()
    post = outbox.add("x" * 5000)
    assert outbox.refused(post.client_id, code, None, now=0) is post
    assert len(outbox) == 0


def test_outbox_resends_after_rate_limited_and_unavailable_and_on_a_new_socket():
    outbox = Outbox()
    post = outbox.add("hi")
    post.sent_at = 0.0
    assert outbox.refused(post.client_id, ErrorCode.RATE_LIMITED, 2.5, now=10) is None
    assert outbox.due(12.4) == [] and outbox.due(12.6) == [post]  # after retry_after
    assert outbox.refused(post.client_id, ErrorCode.UNAVAILABLE, None, now=20) is None
    assert outbox.due(20.5) == [] and outbox.due(21.1) == [post]  # a second later
    outbox.refused(post.client_id, ErrorCode.RATE_LIMITED, 30, now=0)
    outbox.disconnected()  # a new socket: everything goes out at once
    assert outbox.due(0) == [post]
    assert outbox.refused("t-unknown", ErrorCode.TOO_LONG, None, now=0) is None


# --- lines ----------------------------------------------------------------------------------


def test_message_lines():
    utc = UTC
    assert format_message(msg(1, "alice", "hello"), utc) == "[10:15] alice: hello"
    tokyo = timezone(timedelta(hours=9))
    assert format_message(msg(1, "alice", "hello"), tokyo) == "[19:15] alice: hello"
    indent = " " * len("[10:15] bob: ")  # later lines under the first's text
    assert format_message(msg(2, body="one\ntwo"), utc) == f"[10:15] bob: one\n{indent}two"
    assert format_message(msg(3, reply_to=1), utc, "alice").startswith("[10:15] bob (re alice): ")
    assert format_message(msg(3, reply_to=1), utc) == "[10:15] bob (re #1): message 3"
    edited = msg(4, body="fixed", edited_ts="2026-12-03T10:16:00+00:00")
    assert format_message(edited, utc) == "[10:15] bob: fixed (edited)"
    assert format_message(msg(5, body="", deleted=True), utc) == "[10:15] bob: (deleted)"
    reacted = msg(
        6, reactions=[{"emoji": "👍", "users": ["a", "b"]}, {"emoji": "🎉", "users": ["a"]}]
    )
    assert format_message(reacted, utc) == "[10:15] bob: message 6  [👍 2, 🎉 1]"


def test_another_users_body_cannot_drive_the_terminal():
    assert clean("a\x1b]0;pwned\x07b\u202ec\td") == "a\\x1b]0;pwned\\x07b\\u202ec\td"
    line = format_message(msg(1, body="\x1b[2J\x1b[Hfake: line"), UTC)
    assert "\x1b" not in line


def test_display_prints_changes_once_and_news_on_stderr():
    out, err = io.StringIO(), io.StringIO()
    display = Display(out, err, tz=UTC)
    display.show(msg(1, "alice", "hello"))
    display.change(msg(1, "alice", "hello"))  # a resume's replay of what was seen: nothing
    display.change(msg(1, "alice", "hello!", edited_ts="2026-12-03T10:16:00+00:00"))
    display.change(msg(1, "alice", "hello!", edited_ts="2026-12-03T10:16:00+00:00"))
    now = display.transcript.get(1)
    display.change({**now, "reactions": [{"emoji": "👍", "users": ["b"]}]})
    display.change({**msg(1, "alice", ""), "deleted": True})
    display.change({**msg(1, "alice", ""), "deleted": True})
    display.change(msg(9, body="never shown"))  # unknown: nothing to change
    display.status("connected")
    assert out.getvalue().splitlines() == [
        "--- Thu 03 Dec 2026 ---",
        "[10:15] alice: hello",
        "* edited [10:15] alice: hello!",
        '* reactions [10:15] alice "hello!": 👍 1',
        '* deleted [10:15] alice: "hello!"',
    ]
    assert err.getvalue() == "-- connected\n"


def test_json_display_is_one_message_object_per_line():
    out = io.StringIO()
    display = JsonDisplay(out, io.StringIO())
    display.show(msg(1, "alice", "héllo"))
    display.change(msg(1, "alice", "héllo"))
    display.change(msg(1, "alice", "edited", edited_ts="2026-12-03T10:16:00+00:00"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(m["seq"], m["body"]) for m in lines] == [(1, "héllo"), (1, "edited")]
    assert "héllo" in out.getvalue()  # UTF-8 as is, not \u escapes


# --- arguments --------------------------------------------------------------------------


def test_arguments(monkeypatch):
    monkeypatch.delenv("CHAT_TOKEN", raising=False)
    args = parse_args(["--url", "ws://h:8000", "--room", "Lobby", "--token", "t"])
    assert (args.url, args.room, args.token, args.json, args.drain_timeout) == (
        "ws://h:8000",
        "lobby",
        "t",
        False,
        5.0,
    )
    monkeypatch.setenv("CHAT_TOKEN", "from-env")
    assert parse_args(["--url", "ws://h", "--json"]).token == "from-env"
    assert parse_args(["--url", "ws://h", "--json"]).room == "lobby"


@pytest.mark.parametrize(
    "argv", [["--room", "a/b", "--token", "t"], ["--token", "t", "--room", ""], []]
)
def test_bad_arguments_exit_2(argv, monkeypatch, capsys):
    monkeypatch.delenv("CHAT_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exited:
        parse_args(["--url", "ws://h", *argv])
    assert exited.value.code == 2


def test_room_urls():
    assert room_url("ws://127.0.0.1:8000", "lobby") == "ws://127.0.0.1:8000/ws/chat/lobby/"
    assert room_url("ws://h/", "lobby", 12) == "ws://h/ws/chat/lobby/?since=12"
    assert room_url("https://chat.example.com", "den") == "wss://chat.example.com/ws/chat/den/"
    assert room_url("http://h:1/chat", "den", 0) == "ws://h:1/chat/ws/chat/den/?since=0"


# --- the session against a scripted server ----------------------------------------------


class Script:
    """A websockets server in this process playing the chat server: `handler(ws, n)` is
    connection n's script; `paths` are the paths the client asked for."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.paths: list[str] = []
        self.headers: list[str | None] = []

    async def __aenter__(self) -> Script:
        async def serve_one(ws: Any) -> None:
            self.paths.append(ws.request.path)
            self.headers.append(ws.request.headers.get("Authorization"))
            await self.handler(ws, len(self.paths))

        self.server = await serve(serve_one, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


def welcome(messages: list[dict[str, Any]], last_seq: int, **extra: Any) -> str:
    frame = {"type": "welcome", "user": "alice", "last_seq": last_seq, "messages": messages}
    return json.dumps({**frame, "has_more": False, **extra})


async def frames(ws: Any, kind: str) -> dict[str, Any]:
    """The client's next frame of type `kind` (pings skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return frame


def session_for(script: Script) -> tuple[Session, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    session = Session(script.url, "lobby", "chat_tok", Display(out, err, tz=UTC))
    return session, out, err


def shown(out: io.StringIO) -> list[str]:
    return [line.split(": ", 1)[1] for line in out.getvalue().splitlines() if ": " in line]


async def test_a_drop_resumes_with_since_resends_by_client_id_and_fills_gaps():
    sent: list[dict[str, Any]] = []

    async def handler(ws: Any, n: int) -> None:
        if n == 1:
            await ws.send(welcome([msg(1), msg(2)], 2, has_more=True))
            sent.append(await frames(ws, "message"))  # ... and the server dies before storing
            await ws.close(1012)
            return
        await ws.send(welcome([msg(3)], 3))  # the resume's replay above since=2
        again = await frames(ws, "message")
        sent.append(again)
        # Stored as 5 (someone else's 4 committed first, its broadcast late): a jump.
        await ws.send(json.dumps({"type": "message", "message": msg(5, "alice", again["body"],
                                  client_id=again["client_id"])}))  # fmt: skip
        ask = await frames(ws, "history")
        assert ask == {"type": "history", "after": 3, "limit": 100}
        await ws.send(json.dumps({"type": "history", "messages": [msg(4)], "has_more": False}))
        await ws.send(json.dumps({"type": "message", "message": msg(4)}))  # the late broadcast
        await ws.wait_closed()

    async with Script(handler) as script:
        session, out, err = session_for(script)
        runner = asyncio.create_task(session.run())
        session.post("hello")
        assert await session.drain(10), err.getvalue()
        assert session.state is State.CONNECTED
        await session.stop()
        assert await asyncio.wait_for(runner, 10) is Exit.OK

    assert script.paths == ["/ws/chat/lobby/", "/ws/chat/lobby/?since=2"]
    assert script.headers == ["Bearer chat_tok", "Bearer chat_tok"]
    assert sent[0]["client_id"] == sent[1]["client_id"] and sent[0]["body"] == "hello"
    assert shown(out) == ["message 1", "message 2", "message 3", "message 4", "hello"]
    assert "older messages not shown" in err.getvalue()
    assert "reconnected, resuming after 2, resending 1" in err.getvalue()


@pytest.mark.parametrize(
    ("code", "exit", "said"),
    [(4403, Exit.REMOVED, "4403"), (4404, Exit.ROOM_DELETED, "room was deleted")],
)
async def test_4403_and_4404_end_the_client_without_reconnecting(code, exit, said):
    async def handler(ws: Any, n: int) -> None:
        await ws.send(welcome([], 0))
        await ws.close(code)

    async with Script(handler) as script:
        session, _, err = session_for(script)
        assert await asyncio.wait_for(session.run(), 10) is exit
    assert len(script.paths) == 1
    assert said in err.getvalue()


async def test_a_refused_post_is_dropped_and_a_rate_limited_one_resent_after_the_wait():
    got: list[tuple[float, dict[str, Any]]] = []

    async def handler(ws: Any, n: int) -> None:
        await ws.send(welcome([], 0))
        loop = asyncio.get_running_loop()
        long = await frames(ws, "message")
        await ws.send(json.dumps({"type": "error", "code": "too_long", "detail": "too long",
                                  "client_id": long["client_id"]}))  # fmt: skip
        limited = await frames(ws, "message")
        got.append((loop.time(), limited))
        refusal = {"type": "error", "code": "rate_limited", "detail": "slow", "retry_after": 0.3}
        await ws.send(json.dumps({**refusal, "client_id": limited["client_id"]}))
        again = await frames(ws, "message")
        got.append((loop.time(), again))
        stored = msg(1, "alice", again["body"], client_id=again["client_id"])
        await ws.send(json.dumps({"type": "message", "message": stored}))
        await ws.wait_closed()

    async with Script(handler) as script:
        session, out, err = session_for(script)
        runner = asyncio.create_task(session.run())
        session.post("x" * 5000)
        await asyncio.sleep(0)
        session.post("patience")
        assert await session.drain(10), err.getvalue()
        await session.stop()
        await asyncio.wait_for(runner, 10)

    assert session.failed == 1
    assert 'not sent (too_long: too long): "xxxxx' in err.getvalue()
    (t1, first), (t2, second) = got
    assert first["client_id"] == second["client_id"] and t2 - t1 >= 0.3
    assert shown(out) == ["patience"]


async def test_a_handshake_refused_with_403_ends_with_2():
    async def refuse(connection: Any, request: Any) -> Any:
        return connection.respond(403, "Forbidden\n")

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        err = io.StringIO()
        session = Session(url, "lobby", "bad", Display(io.StringIO(), err))
        assert await asyncio.wait_for(session.run(), 10) is Exit.REFUSED
    assert "the token is wrong" in err.getvalue()


async def test_a_long_absence_pages_on_and_a_pong_ahead_fetches_the_missed_message():
    asked: list[dict[str, Any]] = []

    async def handler(ws: Any, n: int) -> None:
        if n == 1:
            await ws.send(welcome([msg(1)], 1))
            await ws.close(1012)
            return
        # The resume: 2..3 now, and more after (has_more_after): the client pages on.
        await ws.send(welcome([msg(2), msg(3)], 6, has_more_after=True))
        asked.append(await frames(ws, "history"))
        await ws.send(json.dumps({"type": "history", "messages": [msg(4)], "has_more": True}))
        asked.append(await frames(ws, "history"))
        await ws.send(json.dumps({"type": "history", "messages": [msg(5)], "has_more": False}))
        # A broadcast lost: only the pong says the room is at 6.
        await frames(ws, "ping")
        await ws.send(json.dumps({"type": "pong", "last_seq": 6}))
        asked.append(await frames(ws, "history"))
        await ws.send(json.dumps({"type": "history", "messages": [msg(6)], "has_more": False}))
        await ws.wait_closed()

    sixth = asyncio.Event()

    class Watching(Display):
        def show(self, m: dict[str, Any]) -> None:
            super().show(m)
            if m["seq"] == 6:
                sixth.set()

    async with Script(handler) as script:
        out, err = io.StringIO(), io.StringIO()
        session = Session(script.url, "lobby", "t", Watching(out, err, tz=UTC), ping_every=0.3)
        runner = asyncio.create_task(session.run())
        await asyncio.wait_for(sixth.wait(), 10)
        await session.stop()
        await asyncio.wait_for(runner, 10)

    assert script.paths[1] == "/ws/chat/lobby/?since=1"
    assert [a["after"] for a in asked] == [3, 4, 5]
    assert shown(out) == [f"message {n}" for n in range(1, 7)]


async def test_no_pong_in_time_means_half_open_and_a_reconnect():
    again = asyncio.Event()

    async def handler(ws: Any, n: int) -> None:
        if n == 2:
            again.set()
        await ws.send(welcome([], 0))
        await ws.wait_closed()  # reads the pings, never answers them

    async with Script(handler) as script:
        out, err = io.StringIO(), io.StringIO()
        session = Session(script.url, "lobby", "t", Display(out, err, tz=UTC), ping_every=0.2)
        runner = asyncio.create_task(session.run())
        await asyncio.wait_for(again.wait(), 10)
        await session.stop()
        await asyncio.wait_for(runner, 10)

    assert len(script.paths) == 2, err.getvalue()
    assert "no pong: the connection is half-open" in err.getvalue()
