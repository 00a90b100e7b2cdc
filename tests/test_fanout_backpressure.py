"""A client that stops reading never holds up its room: its backlog is bounded and, past
the bound, it is disconnected with 4408 (it resumes from history with `since`).

The stalled socket here is an ASGI `send` that never returns, which is what uvicorn's send
does for a client that stopped reading (it waits for the socket to drain). Daphne's path is
exercised against real sockets by the bench's `slow` scenario."""

from __future__ import annotations

import asyncio
from typing import Any

from chat.fanout import (
    CLOSE_TOO_SLOW,
    SEND_BUFFER_BYTES,
    Connection,
    Fanout,
    RoomFeed,
    messages_event,
)


async def test_a_stalled_socket_is_disconnected_and_the_room_goes_on() -> None:
    fan = Fanout()
    feed = fan.rooms["lobby"] = RoomFeed("lobby")
    feed.cursor = 0
    healthy_frames: list[dict[str, Any]] = []
    stalled_frames: list[dict[str, Any]] = []
    closed = asyncio.Event()
    never = asyncio.Event()

    async def healthy_send(frame: dict[str, Any]) -> None:
        healthy_frames.append(frame)

    async def stalled_send(frame: dict[str, Any]) -> None:
        stalled_frames.append(frame)
        if frame["type"] == "websocket.close":
            closed.set()
        else:
            await never.wait()  # the client stopped reading: this send never completes

    healthy = Connection("lobby", 1, healthy_send)
    stalled = Connection("lobby", 2, stalled_send)
    feed.conns.update({healthy, stalled})
    text = "x" * 10_000
    count = SEND_BUFFER_BYTES // len(text) + 10

    async with asyncio.timeout(5):  # the room must not wait for the stalled socket
        for seq in range(1, count + 1):
            await fan._handle(messages_event("lobby", [(seq, text)])[1])
            await asyncio.sleep(0)  # let the writers run, as the event loop would
        await closed.wait()

    assert [f["text"] for f in healthy_frames] == [text] * count
    assert stalled_frames[-1] == {"type": "websocket.close", "code": CLOSE_TOO_SLOW}
    # It got the first frame (its send then hung) and nothing after it was dropped.
    assert len([f for f in stalled_frames if f["type"] == "websocket.send"]) == 1
    assert stalled not in feed.conns and healthy in feed.conns
    assert stalled.backlog is None or not stalled.backlog  # its backlog was freed


async def test_a_socket_that_keeps_up_is_never_disconnected() -> None:
    fan = Fanout()
    feed = fan.rooms["lobby"] = RoomFeed("lobby")
    feed.cursor = 0
    got: list[str] = []
    all_in = asyncio.Event()

    async def slowish_send(frame: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # waits a little on every frame, like a busy socket
        got.append(frame["text"])
        if len(got) == 500:
            all_in.set()

    conn = Connection("lobby", 1, slowish_send)
    feed.conns.add(conn)
    for seq in range(1, 501):
        await fan._handle(messages_event("lobby", [(seq, f"frame {seq}")])[1])
    async with asyncio.timeout(5):
        await all_in.wait()
    assert got == [f"frame {seq}" for seq in range(1, 501)]
    assert conn in feed.conns and not conn.closed


async def test_a_batch_larger_than_the_buffer_does_not_disconnect_a_reader() -> None:
    """A batch is written to every socket at once, before any of it can be sent: what a
    client has not taken *yet* is no sign that it cannot keep up. Only what is still unread
    when the next event comes counts."""
    fan = Fanout()
    feed = fan.rooms["lobby"] = RoomFeed("lobby")
    feed.cursor = 0
    got: list[str] = []
    text = "x" * 10_000
    big = [(seq, text) for seq in range(1, 2 * SEND_BUFFER_BYTES // len(text) + 1)]
    batch_read, all_read = asyncio.Event(), asyncio.Event()

    async def send(frame: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # a socket that keeps up, one frame per turn of the loop
        got.append(frame["text"])
        if len(got) == len(big):
            batch_read.set()
        if len(got) == len(big) + 1:
            all_read.set()

    conn = Connection("lobby", 1, send)
    feed.conns.add(conn)
    await fan._handle(messages_event("lobby", big)[1])
    async with asyncio.timeout(5):
        await batch_read.wait()
    await fan._handle(messages_event("lobby", [(len(big) + 1, "after")])[1])
    async with asyncio.timeout(5):
        await all_read.wait()
    assert got[-1] == "after"
    assert conn in feed.conns and not conn.closed


async def test_frames_go_out_in_place_while_the_socket_takes_them_and_in_order_after() -> None:
    """No task per frame while the socket keeps up (a lone frame to 10,000 sockets was
    10,000 tasks); once a send waits, it and what follows go through one writer, in order;
    abandoning the socket ends the waiting send."""
    sent: list[str] = []
    gate = asyncio.Event()
    gate.set()
    ended = asyncio.Event()
    drained = asyncio.Event()

    async def send(frame: dict[str, Any]) -> None:
        try:
            await gate.wait()  # returns at once while set, as uvicorn's `writable` does
            sent.append(frame["text"])
            if frame["text"] == "four":
                drained.set()
        finally:
            if frame["text"] == "five":
                ended.set()

    conn = Connection("lobby", 1, send)
    await conn.put({"type": "websocket.send", "text": "one"})
    assert sent == ["one"] and conn.writer is None  # sent in place, no task

    gate.clear()  # the client stops reading: the next send waits
    for text in ("two", "three", "four"):
        await conn.put({"type": "websocket.send", "text": text})
    assert sent == ["one"] and conn.writer is not None
    assert [f["text"] for f in conn.backlog or ()] == ["three", "four"]
    gate.set()
    async with asyncio.timeout(5):
        await drained.wait()
    assert sent == ["one", "two", "three", "four"]

    gate.clear()
    await conn.put({"type": "websocket.send", "text": "five"})
    conn.abandon()
    async with asyncio.timeout(5):
        await ended.wait()
    gate.set()
    await asyncio.sleep(0)
    assert sent == ["one", "two", "three", "four"] and conn.closed


async def test_a_batch_goes_to_each_socket_back_to_back_from_its_writer() -> None:
    """A batch of messages is delivered one message to every socket at a time: sent in
    place, a socket's frames would be spread over the room's whole turn (a read each for
    its client); queued instead, each socket's writer sends them back to back."""
    fan = Fanout()
    feed = fan.rooms["lobby"] = RoomFeed("lobby")
    feed.cursor = 0
    log: list[tuple[int, str]] = []

    def sender(user_id: int) -> Any:
        async def send(frame: dict[str, Any]) -> None:
            log.append((user_id, frame["text"]))

        return send

    conns = [Connection("lobby", user_id, sender(user_id)) for user_id in (1, 2)]
    feed.conns.update(conns)
    await fan._handle(messages_event("lobby", [(1, "a"), (2, "b"), (3, "c")])[1])
    assert log == [] and all(conn.writer is not None for conn in conns)
    async with asyncio.timeout(5):
        await asyncio.gather(*(conn.writer for conn in conns if conn.writer))
    for user_id in (1, 2):
        mine = [i for i, (who, _) in enumerate(log) if who == user_id]
        assert [log[i][1] for i in mine] == ["a", "b", "c"]
        assert mine == list(range(mine[0], mine[0] + 3))  # back to back
    await fan._handle(messages_event("lobby", [(4, "d")])[1])  # alone: in place
    assert log[-2:] in ([(1, "d"), (2, "d")], [(2, "d"), (1, "d")])
