"""Fan-out inside the process: one channel-layer subscription per room per process.

The Channels tutorial puts every socket in the room's group, so every recipient costs a
channel-layer delivery, a consumer dispatch (with a database clean-up hop) and a JSON
encode. Here each server process holds one channel, joins a room's group once while it has
sockets in that room, and forwards the ready text of each event to its local sockets'
ASGI `send`.

It also keeps delivery in seq order with no gaps (docs/protocol.md, "Order"): a room's
`cursor` is the highest seq delivered to its local sockets; an event past cursor + 1 means
the ones between were published late or lost (channel layers deliver at most once), so
they are read from the database, which has them (a seq is only taken after the previous
one committed). Events at or below the cursor are dropped as already delivered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import metrics, presence, protocol, selectors, sessions
from .errors import CloseCode, Forbidden

log = logging.getLogger("chat.fanout")

Event = tuple[str, dict[str, Any]]  # (group, channel-layer message)
Send = Callable[[dict[str, Any]], Awaitable[None]]

FILL_BATCH = 200
# What one socket may have waiting to be sent before it is disconnected as too slow.
# Above the largest frame we send (a 512 KiB welcome or history page) plus a batch, so a
# client on a slow link is not cut off while it takes a big frame.
SEND_BUFFER_BYTES: int = getattr(settings, "CHAT_SEND_BUFFER_BYTES", 1024 * 1024)
CLOSE_TOO_SLOW = CloseCode.TOO_SLOW  # the client fell behind; it resumes with `since`
RETRY_SECONDS = (0.1, 0.5, 1, 2, 5)


def room_group(slug: str) -> str:
    return f"room.{slug}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# Every process with sockets listens here for what changes every user's room list or
# counts: new messages anywhere (unread counts), rooms created or deleted.
ACTIVITY_GROUP = "chat.activity"
PRESENCE_DEBOUNCE = 0.05  # presence changes within this are told in one recount
# Presence and typing frames wait at most this long and go out together, or with the next
# message batch if one comes first (Fanout._queue_life says why).
LIFE_DELAY = 0.25
LIFE_ROOM, LIFE_DELAY_MAX = 1250, 2.0  # above LIFE_ROOM sockets, longer, up to the max
# More presence changes than this for one socket in one flush go as one `presence_changes`
# frame (a room filling after a deploy would otherwise send every socket one frame per
# arrival: a room of N costs N x N frames).
PRESENCE_FRAMES_MAX = 2
# Joins into one room are admitted in batches of at most this many (Fanout._admit).
JOIN_BATCH = 200


# --- events (built by chat.services, the only publisher) --------------------------------


def messages_event(slug: str, messages: list[tuple[int, str]]) -> Event:
    """New messages, as (seq, ready text) in seq order: delivered in seq order. A batch
    travels as one event, so each process gets one channel-layer delivery for it and
    writes it to each socket in one go (daphne then sends it in one system call)."""
    return room_group(slug), {"type": "chat.messages", "room": slug, "messages": messages}


def room_event(slug: str, text: str, *, skip_user: int | None = None) -> Event:
    """Any other frame for everyone in the room (deletions, room changes...); with
    `skip_user`, for everyone but that user's sockets (presence, typing)."""
    event = {"type": "chat.room", "room": slug, "text": text}
    if skip_user is not None:
        event["skip_user"] = skip_user
    return room_group(slug), event


def user_event(user_id: int, text: str) -> Event:
    """A frame for every open socket of one user, room sockets and home sockets, on every
    process (the user's stream: unread counts, notifications, room list changes)."""
    return user_group(user_id), {"type": "chat.user", "user_id": user_id, "text": text}


def unread_event(user_id: int, slug: str, counts: protocol.Counts) -> Event:
    """A user's counts of a room changed by the user (a read): an `unread` frame for all
    their sockets, which each process also remembers as what they were last told."""
    group, event = user_event(user_id, protocol.unread_frame(slug, counts))
    event["counts"] = [slug, *counts]
    return group, event


def activity_event(slug: str) -> Event:
    """Room `slug` has new or deleted messages: every process recounts its users' unread
    counts of it (coalesced: at most once per CHAT_UNREAD_INTERVAL_SECONDS)."""
    return ACTIVITY_GROUP, {"type": "chat.activity", "room": slug}


def rooms_changed_event() -> Event:
    """A room was created or deleted: every process sends its users their new room list."""
    return ACTIVITY_GROUP, {"type": "chat.rooms"}


def presence_event(slug: str) -> Event:
    """Someone came or went in room `slug` (the store has it already): each process with
    sockets there reads who is present and tells them what changed."""
    return room_group(slug), {"type": "chat.presence", "room": slug}


def close_event(
    *,
    code: int,
    user_id: int | None = None,
    room: str | None = None,
    keep: list[int] | None = None,
) -> Event:
    """Close sockets: a user's in one room, a user's everywhere (room None), or a whole room
    (user_id None) but the sockets of the users in `keep`."""
    if room is None and user_id is None:
        raise ValueError("close_event needs a user or a room")
    group = room_group(room) if room is not None else user_group(user_id)  # type: ignore[arg-type]
    # int(): the layer's msgpack and daphne's autobahn take a plain int, not an IntEnum.
    event = {"type": "chat.close", "room": room, "user_id": user_id, "code": int(code)}
    if keep:
        event["keep"] = keep
    return group, event


async def publish(events: list[Event]) -> None:
    """Send events to their groups. A failure is logged, not raised: the write already
    committed, and clients recover anything missed from the database."""
    layer = get_channel_layer()
    for group, message in events:
        try:
            await layer.group_send(group, message)
        except Exception:
            metrics.LAYER_ERRORS.inc()
            log.warning("publish to %s failed; clients will catch up from history", group)


# --- the receiving side -----------------------------------------------------------------


class Connection:
    """One local socket in a room, and the bounded buffer of frames on their way to it.

    A client that stops reading must not slow its room, nor make the server hold an
    unbounded backlog for it. Before each event is delivered, a socket still holding more
    than SEND_BUFFER_BYTES from earlier ones is disconnected (close code 4408) and resumes
    from history with `since`, losing nothing (the database is the log). The check comes
    before an event, never in the middle of one: a batch is written to every socket at
    once, so what a healthy client has not taken *yet* must not count against it. ASGI
    servers differ in where the backlog piles up:
    - daphne's `send` never waits: it writes into the Twisted transport, whose buffer has
      no limit, and which sends everything written in one turn of the event loop in one
      system call. We send at once and look at that buffer.
    - uvicorn's `send` waits while the socket's buffer is full. A frame is sent in place
      while the socket takes data (Connection._send_now); once a send waits, it and the
      frames after it go to a per-connection queue drained by a writer task (alive only
      while there is a backlog), so the room's delivery loop never waits for one socket.
    """

    __slots__ = (
        "backlog",
        "backlog_bytes",
        "closed",
        "last_seq",
        "life_from",
        "on_failure",
        "password",
        "room",
        "send",
        "session_key",
        "transport",
        "user_id",
        "username",
        "writer",
    )

    def __init__(
        self,
        room: str,
        user_id: int,
        send: Send,
        *,
        session_key: str = "",
        password: int = 0,
        username: str = "",
    ) -> None:
        self.room = room
        self.user_id = user_id
        self.username = username  # presence and typing name users; skip their own sockets
        self.send = send
        # What the socket's session was when it opened (chat/sessions.py re-checks them).
        self.session_key = session_key
        self.password = password  # hash() of the user's password hash at the handshake
        self.transport = _twisted_transport(self.send)
        self.last_seq = 0  # highest seq this socket has been sent
        self.life_from = 0  # the room's first ephemeral frame (RoomFeed.life) it may get
        self.backlog: deque[dict[str, Any]] | None = None  # made when first needed
        self.backlog_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.closed = False
        # Set by the fan-out: takes a socket whose send failed out of every delivery at once.
        self.on_failure: Callable[[Connection], None] | None = None

    async def put(self, frame: dict[str, Any], *, now: bool = True) -> None:
        """Send or queue `frame` without waiting for the client. Never raises: a socket
        whose send fails (closing, gone) is marked closed and reported to the fan-out, so
        one dead socket never stops a delivery to the others. `now=False` for a frame of
        a batch that goes to every socket one frame at a time: queued, so that each
        socket's writer sends its frames back to back (sent in place, each socket's would
        be spread over the whole room's turn, a read each for the client: measured, twice
        the clients' CPU and 1.5x the server's in a burst to 10,000)."""
        if self.closed:
            return
        if self.transport is not None:
            try:
                await self.send(frame)  # daphne: returns at once, the transport buffers
            except Exception:
                # e.g. autobahn's Disconnected for a socket whose close has begun
                self._failed()
            return
        if self.writer is None and now:
            self._send_now(frame)
            return
        if self.backlog is None:
            self.backlog = deque()
        self.backlog.append(frame)
        self.backlog_bytes += len(frame.get("text") or "")
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write(None))

    def _send_now(self, frame: dict[str, Any]) -> None:
        """Start sending `frame` in place, without a task: uvicorn's `send` returns without
        waiting while the socket takes data, and a task per frame and socket was most of
        what a lone frame to 10,000 idle sockets cost (docs/benchmarks.md, "A room of
        10,000"). Only a send that does wait (the client is not reading) gets a writer
        task, which finishes it and then sends what queued behind it, in order."""
        sending = self.send(frame)
        try:
            waiting = sending.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return  # sent
        except Exception:
            self._failed()
            return
        self.writer = asyncio.get_running_loop().create_task(
            self._write(_Resumed(sending, waiting))
        )

    def behind(self) -> bool:
        """Whether the client has left more than SEND_BUFFER_BYTES unread."""
        if self.transport is not None:
            return _twisted_buffered(self.transport) > SEND_BUFFER_BYTES
        return self.backlog_bytes > SEND_BUFFER_BYTES

    async def _write(self, first: Awaitable[None] | None) -> None:
        try:
            if first is not None:
                await first  # the send that waited (_send_now)
            while self.backlog and not self.closed:
                frame = self.backlog.popleft()
                self.backlog_bytes -= len(frame.get("text") or "")
                await self.send(frame)
        except Exception:
            self.writer = None
            self._failed()
        finally:
            self.writer = None

    def _failed(self) -> None:
        log.debug("send to a closed socket in room %s", self.room)
        self.abandon()
        if self.on_failure is not None:
            self.on_failure(self)

    def abandon(self) -> None:
        """Stop sending to this socket: drop its backlog and its writer."""
        self.closed = True
        self.backlog = None
        self.backlog_bytes = 0
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None


class _Resumed:
    """Awaiting this runs on a coroutine that was started by hand (Connection._send_now)
    and stopped at `waiting`, the future it waits on (or None, a bare yield): the awaiting
    task gets that future, and the coroutine goes on from where it stopped. (Python 3.12's
    eager tasks do this; 3.11, the project's Python, has none.)"""

    def __init__(self, coro: Any, waiting: Any) -> None:
        self.coro, self.waiting = coro, waiting

    def __await__(self) -> Any:
        waiting = self.waiting
        while True:
            try:
                yield waiting
            except BaseException as err:  # cancelled (Connection.abandon): into the send
                step = functools.partial(self.coro.throw, err)
            else:
                step = functools.partial(self.coro.send, None)
            try:
                waiting = step()
            except StopIteration as done:
                return done.value


def _twisted_transport(send: Send) -> Any:
    """Daphne's transport for this socket, or None under any other server. Daphne's send is
    functools.partial(Server.handle_reply, protocol); the protocol holds the transport."""
    if isinstance(send, functools.partial):
        for arg in send.args:
            transport = getattr(arg, "transport", None)
            if transport is not None and hasattr(transport, "_tempDataLen"):
                return transport
    return None


def _twisted_buffered(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds that the kernel has not taken yet."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class Life(NamedTuple):
    """An ephemeral frame waiting on a room's feed: its text, whose sockets skip it, and
    for a presence frame (username, online)."""

    text: str
    skip_user: int | None
    skip_name: str | None
    presence: tuple[str, bool] | None = None


@dataclass
class Joining:
    """A socket waiting to be admitted into its room (Fanout.join)."""

    conn: Connection
    room: Any  # the chat.models.Room its handshake opened
    user: Any
    since: int | None
    send: Callable[[Any, protocol.WelcomeParts], Awaitable[int]]
    done: asyncio.Future[bool | None]


class RoomFeed:
    __slots__ = (
        "admitting",
        "conns",
        "cursor",
        "here",
        "joining",
        "life",
        "life_base",
        "life_due",
        "lock",
        "present",
        "recount_due",
        "slug",
    )

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.conns: set[Connection] = set()
        self.cursor: int | None = None  # None: not subscribed
        # Held while delivering and while a socket joins, so a joining socket gets its
        # welcome before any live frame and the room's frames go out in order.
        self.lock = asyncio.Lock()
        self.here: dict[str, int] = {}  # username -> this process's sockets of theirs here
        # Who the local sockets were last told is present (all processes), None until read.
        self.present: set[str] | None = None
        self.recount_due = False
        # Presence and typing frames waiting to go out, and how many went out before them
        # (a socket that joins gets only those queued after it: Connection.life_from).
        self.life: list[Life] = []
        self.life_base = 0
        self.life_due = False
        self.joining: list[Joining] = []  # sockets waiting to be admitted (Fanout._admit)
        self.admitting = False


class Fanout:
    def __init__(self, read_welcomes: Callable[..., list[Any]] | None = None) -> None:
        # selectors.welcomes by default; the fan-out's own tests give one without a database.
        self.read_welcomes = read_welcomes or selectors.welcomes
        self.layer = get_channel_layer()
        self.channel = ""
        self.rooms: dict[str, RoomFeed] = {}
        self.users: dict[int, set[Connection]] = {}
        self._starting: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # closes and clean-ups under way
        self.presence = presence.get_store()
        self.hints: set[str] = set()  # rooms whose recount hint is about to go out
        # The user's stream, coalesced: rooms with news since the last flush, whether room
        # lists changed, and each user's counts as last sent {user_id: {slug: Counts}}.
        self.dirty: set[str] = set()
        self.lists_dirty = False
        self.flush_due = False
        self.sent: dict[int, dict[str, protocol.Counts]] = {}

    async def _start(self) -> None:
        # The first sockets of a process join at the same time, and opening the channel
        # waits on the layer (Redis): they must all wait for one channel, not open one each.
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._open())
        try:
            await asyncio.shield(self._starting)
        except Exception:
            self._starting = None  # the layer is down: the next socket tries again
            raise

    async def _open(self) -> None:
        self.channel = await self.layer.new_channel()
        await self._add(ACTIVITY_GROUP)
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._refresher = loop.create_task(self._refresh_forever())
        self._renewer = loop.create_task(self._renew_presence_forever())

    async def join(
        self,
        conn: Connection,
        room: Any,
        user: Any,
        since: int | None,
        send: Callable[[Any, protocol.WelcomeParts], Awaitable[int]],
    ) -> None:
        """Add a socket to its room: `room` and `user` are its handshake's, `since` its
        resume point; `send(welcome, shared)` sends the welcome (a selectors.Welcome, and
        the protocol.WelcomeParts of its batch) and returns the last seq it covered.
        Raises Forbidden when the user may not enter after all.

        A room's joins are admitted in batches, with its deliveries held back (so a socket
        gets its welcome before any live frame), by one task per room (_admit). When
        thousands of sockets reconnect at once (after a deploy), each batch's welcomes take
        one database hop and read what is the same for all once (selectors.welcomes)."""
        await self._start()
        conn.on_failure = self.evict
        loop = asyncio.get_running_loop()
        while True:
            feed = self.rooms.setdefault(conn.room, RoomFeed(conn.room))
            joining = Joining(conn, room, user, since, send, loop.create_future())
            feed.joining.append(joining)
            if not feed.admitting:
                feed.admitting = True
                self._in_background(self._admit(feed))
            came = await joining.done
            if came is not None:
                break  # None: the feed was emptied and removed meanwhile; take the new one
        await self._add_user(conn)
        if came:
            await self._came_or_went(feed.slug, conn.username, came=True)

    async def _admit(self, feed: RoomFeed) -> None:
        """Admit the room's waiting sockets, a batch at a time, until none wait."""
        try:
            while feed.joining:
                async with feed.lock:
                    batch = feed.joining[:JOIN_BATCH]
                    del feed.joining[:JOIN_BATCH]
                    if self.rooms.get(feed.slug) is not feed:
                        batch += feed.joining
                        feed.joining.clear()
                        for joining in batch:
                            _settle(joining.done, None)
                        return
                    try:
                        await self._admit_batch(feed, batch)
                    except Exception as err:  # the database, the layer: the batch fails
                        for joining in batch:
                            _settle(joining.done, err)
                    finally:
                        if not feed.conns and not feed.joining:
                            await self._drop_feed(feed)
        finally:
            feed.admitting = False

    async def _admit_batch(self, feed: RoomFeed, batch: list[Joining]) -> None:
        if feed.cursor is None:
            await self._add(room_group(feed.slug))
        if feed.present is None:
            feed.present = await self._members(feed.slug)
        asks = [(joining.user, joining.since) for joining in batch]
        welcomes = await database_sync_to_async(self.read_welcomes)(batch[0].room, asks)
        # The welcomes' `present` (who the room's sockets here were told is present, and
        # the batch, which joins now) and their pages, encoded once per batch: a room of
        # 10,000 fills in batches, and a sort and an encoding per socket were N x N.
        arriving = {j.conn.username for j, w in zip(batch, welcomes, strict=True) if w}
        shared = protocol.WelcomeParts(feed.present | arriving)  # (it sorts them)
        for joining, welcome in zip(batch, welcomes, strict=True):
            if joining.done.done():
                continue  # the handshake went away while it waited
            if welcome is None:
                _settle(joining.done, Forbidden("You are banned from this room."))
                continue
            conn = joining.conn
            try:
                conn.last_seq = await joining.send(welcome, shared)
            except Exception as err:
                _settle(joining.done, err)
                continue
            if feed.cursor is None:
                feed.cursor = conn.last_seq
            conn.life_from = feed.life_base + len(feed.life)  # none queued before it
            came = self._count_in(feed, conn)
            if came:
                await self._tell_arrival(feed, conn.username)
            _settle(joining.done, came)

    async def join_home(self, conn: Connection, hello: Callable[[], Awaitable[None]]) -> None:
        """Add a home socket (no room: it gets the user's stream only). `hello` sends its
        first frame before any frame of the stream can reach it."""
        await self._start()
        conn.on_failure = self.evict
        await hello()
        await self._add_user(conn)

    async def _add_user(self, conn: Connection) -> None:
        mine = self.users.setdefault(conn.user_id, set())
        if not mine:
            await self._add(user_group(conn.user_id))
        mine.add(conn)
        metrics.SOCKETS.labels("room" if conn.room else "home").inc()

    async def _add(self, group: str) -> None:
        # With the layer down a socket still joins (welcome and history come from the
        # database); the periodic refresh adds the group and catches up once it is back.
        try:
            await self.layer.group_add(group, self.channel)
        except Exception:
            metrics.LAYER_ERRORS.inc()
            log.warning("group_add %s failed; the refresh will retry", group)

    async def leave(self, conn: Connection) -> None:
        """Take a socket out of its room and its user; safe to call more than once."""
        conn.on_failure = None
        feed = self.rooms.get(conn.room)
        went = False
        if feed is not None and (conn in feed.conns or not feed.conns):
            async with feed.lock:
                went = self._count_out(feed, conn)
                if not feed.conns and not feed.joining and self.rooms.get(conn.room) is feed:
                    await self._drop_feed(feed)
        if went:
            self._in_background(self._went(conn.room, conn.username))
        mine = self.users.get(conn.user_id)
        if mine is not None and conn in mine:
            metrics.SOCKETS.labels("room" if conn.room else "home").dec()
            mine.discard(conn)
            if not mine:
                del self.users[conn.user_id]
                self.sent.pop(conn.user_id, None)
                await self._discard(user_group(conn.user_id))

    def evict(self, conn: Connection) -> None:
        """A send to `conn` failed: no later frame of any delivery goes to it (delivery loops
        skip closed sockets), and it leaves its room and user now, not when (or if) its
        consumer's disconnect runs."""
        feed = self.rooms.get(conn.room)
        if feed is not None and self._count_out(feed, conn):
            self._in_background(self._went(conn.room, conn.username))
        self._in_background(self.leave(conn))

    # --- presence (chat/presence.py holds the store) ------------------------------------

    @staticmethod
    def _count_in(feed: RoomFeed, conn: Connection) -> bool:
        """Add `conn` to its room's sockets; True when it is its user's first one here."""
        feed.conns.add(conn)
        feed.here[conn.username] = feed.here.get(conn.username, 0) + 1
        return feed.here[conn.username] == 1

    @staticmethod
    def _count_out(feed: RoomFeed, conn: Connection) -> bool:
        """Take `conn` out of its room's sockets; True when it was its user's last one."""
        if conn not in feed.conns:
            return False
        feed.conns.discard(conn)
        left = feed.here.get(conn.username, 0) - 1
        if left > 0:
            feed.here[conn.username] = left
            return False
        feed.here.pop(conn.username, None)
        return True

    async def _tell_arrival(self, feed: RoomFeed, username: str) -> None:
        """A user's first socket here joined: they are present, whatever the store says
        yet, so the room's other local sockets hear it now (other processes, after their
        recount)."""
        assert feed.present is not None
        if username not in feed.present:
            feed.present.add(username)
            self._queue_presence(feed, username, True)

    def _queue_presence(self, feed: RoomFeed, username: str, online: bool) -> None:
        text = protocol.presence_frame(username, online)
        self._queue_life(feed, Life(text, None, username, (username, online)))

    def _queue_life(self, feed: RoomFeed, frame: Life) -> None:
        """Send an ephemeral frame (presence, typing) to the room's sockets within
        LIFE_DELAY, together with the others that come meanwhile, or with the next message
        batch. Measured (docs/benchmarks.md, room life): a lone frame to 1,000 idle sockets
        cost about three message deliveries each, since daphne registers every socket for
        writing and uvicorn starts a writer task per socket; written in the same turn as
        other frames, it rides on their write."""
        feed.life.append(frame)
        if not feed.life_due:
            feed.life_due = True
            self._in_background(self._flush_life_later(feed))

    async def _flush_life_later(self, feed: RoomFeed) -> None:
        # A flush writes to every socket of the room: in a big room, flush less often, so
        # that room life costs the same share of the process whatever the room's size.
        await asyncio.sleep(min(LIFE_DELAY_MAX, LIFE_DELAY * max(1, len(feed.conns) / LIFE_ROOM)))
        if self.rooms.get(feed.slug) is not feed:
            feed.life.clear()
            return
        async with feed.lock:
            await self._flush_life(feed)

    async def _flush_life(self, feed: RoomFeed) -> None:
        """Write the waiting ephemeral frames (feed.lock held), each socket's in one go."""
        frames, feed.life = feed.life, []
        texts = LifeTexts(frames, feed.life_base)
        feed.life_base += len(frames)
        feed.life_due = False
        if not frames:
            return
        for conn in tuple(feed.conns):
            if conn.closed:
                continue
            mine = texts.of(conn)
            if not mine:
                continue
            if conn.behind():
                self.cut(conn)
                continue
            for text in mine:
                await conn.put({"type": "websocket.send", "text": text})

    async def _went(self, slug: str, username: str) -> None:
        """A user's last socket here closed. They stay present for
        CHAT_PRESENCE_GRACE_SECONDS: a reload or a reconnect tells nobody anything, and a
        client that opens and closes sockets in a loop cannot flood the room with
        presence frames."""
        await asyncio.sleep(settings.CHAT_PRESENCE_GRACE_SECONDS)
        if self._here(slug, username):
            return  # back already
        await self._came_or_went(slug, username, came=False)
        if self._here(slug, username):  # came back while the store was told: say so again
            await self._came_or_went(slug, username, came=True)

    def _here(self, slug: str, username: str) -> bool:
        feed = self.rooms.get(slug)
        return feed is not None and feed.here.get(username, 0) > 0

    async def _came_or_went(self, slug: str, username: str, *, came: bool) -> None:
        """Tell the store that this process's first socket of `username` in room `slug`
        opened (or its last closed), then every process with sockets there to recount. A
        failing store (Redis down) is logged: the next renewal puts things right."""
        try:
            if came:
                await self.presence.add(slug, username)
            else:
                await self.presence.remove(slug, username)
        except Exception:
            log.warning("presence store failed for room %s; the renewal will retry", slug)
        self._hint_presence(slug)

    def _hint_presence(self, slug: str) -> None:
        """Ask every process with sockets in the room to recount, once per
        PRESENCE_DEBOUNCE however many came or went meanwhile: a room's join storm is
        thousands of arrivals, and each publish costs every process a delivery."""
        if slug not in self.hints:
            self.hints.add(slug)
            self._in_background(self._send_hint(slug))

    async def _send_hint(self, slug: str) -> None:
        await asyncio.sleep(PRESENCE_DEBOUNCE)
        self.hints.discard(slug)
        await publish([presence_event(slug)])

    async def _members(self, slug: str) -> set[str]:
        try:
            return await self.presence.members(slug)
        except Exception:
            log.warning("presence store failed for room %s", slug)
            return set()

    def _schedule_recount(self, feed: RoomFeed) -> None:
        if not feed.recount_due:
            feed.recount_due = True
            self._in_background(self._recount(feed))

    async def _recount(self, feed: RoomFeed) -> None:
        """Read who is present in the room and tell the local sockets who came and went
        since they were last told (each user's own sockets are not told of them)."""
        await asyncio.sleep(PRESENCE_DEBOUNCE)
        feed.recount_due = False
        if self.rooms.get(feed.slug) is not feed:
            return
        members = await self._members(feed.slug)
        async with feed.lock:
            members |= set(feed.here)  # this process's own sockets are the surest sign
            told = feed.present or set()
            changes = [(name, True) for name in sorted(members - told)]
            changes += [(name, False) for name in sorted(told - members)]
            feed.present = members
            for name, online in changes:
                self._queue_presence(feed, name, online)

    async def _renew_presence_forever(self) -> None:
        """Every TTL/3: renew this process's presence entries, and recount every local
        room, which finds the users of a process that died without closing its sockets."""
        while True:
            await asyncio.sleep(presence.ttl() / 3)
            entries = {slug: list(feed.here) for slug, feed in self.rooms.items()}
            try:
                await self.presence.renew(entries)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence renewal failed; will retry", exc_info=True)
            for feed in list(self.rooms.values()):
                self._schedule_recount(feed)

    # --- the user's stream: unread counts and room lists, coalesced ---------------------

    def _schedule_flush(self) -> None:
        if not self.flush_due and self.users:
            self.flush_due = True
            self._in_background(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(settings.CHAT_UNREAD_INTERVAL_SECONDS)
        self.flush_due = False
        dirty, self.dirty = self.dirty, set()
        lists, self.lists_dirty = self.lists_dirty, False
        try:
            if lists:
                await self._send_lists()  # a whole list carries every room's counts
            elif dirty:
                await self._send_unread(dirty)
        except Exception:
            log.warning("sending unread counts failed", exc_info=True)

    async def _send_unread(self, dirty: set[str]) -> None:
        """`unread` frames for the rooms in `dirty`, to each user whose counts changed since
        they were last told, on their sockets outside that room (inside it, the page has
        the messages themselves)."""
        users = [
            user_id
            for user_id, conns in self.users.items()
            if any(conn.room != slug for conn in conns for slug in dirty)
        ]
        if not users:
            return
        found = await database_sync_to_async(selectors.unread_counts)(users, sorted(dirty))
        for (user_id, slug), counts in found.items():
            told = self.sent.setdefault(user_id, {})
            if told.get(slug) == counts:
                continue
            told[slug] = counts
            conns = [conn for conn in self.users.get(user_id, ()) if conn.room != slug]
            frame = {"type": "websocket.send", "text": protocol.unread_frame(slug, counts)}
            await self._send_all(conns, frame)

    async def _send_lists(self) -> None:
        """A `rooms` frame with each local user's whole room list, to all their sockets."""
        users = list(self.users)
        for start in range(0, len(users), 500):
            batch = users[start : start + 500]
            lists = await database_sync_to_async(selectors.summaries_for)(batch)
            for user_id, summaries in lists.items():
                self.sent[user_id] = {room.slug: counts for room, counts in summaries}
                frame = {"type": "websocket.send", "text": protocol.rooms_frame(summaries)}
                await self._send_all(self.users.get(user_id, ()), frame)

    def cut(self, conn: Connection, code: int = CLOSE_TOO_SLOW) -> None:
        """Stop sending to `conn` and close it with `code` (4408: too slow). The close may
        wait for a stalled socket, so it runs beside the caller, never in its way."""
        if conn.closed:
            return
        conn.abandon()
        log.warning("disconnecting a slow client room=%s user=%s", conn.room, conn.user_id)
        self._in_background(self._disconnect(conn, code))

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _drop_feed(self, feed: RoomFeed) -> None:
        # Called with feed.lock held, so a join waiting on it re-subscribes after us.
        if feed.cursor is not None:
            feed.cursor = None
            await self._discard(room_group(feed.slug))
        if self.rooms.get(feed.slug) is feed:
            del self.rooms[feed.slug]

    async def _discard(self, group: str) -> None:
        try:
            await self.layer.group_discard(group, self.channel)
        except Exception:
            log.warning("group_discard %s failed", group)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                metrics.LAYER_ERRORS.inc()
                log.warning("channel layer receive failed; retrying in %ss", delay)
                failures += 1
                await asyncio.sleep(delay)
                await self._resubscribe()
                continue
            if failures:
                failures = 0
            try:
                await self._handle(event)
            except Exception:
                log.exception("fan-out of %s failed", event.get("type"))
            # One turn of the event loop between events: the sockets send what this one
            # wrote, so what is left when the next one comes is what clients did not take.
            await asyncio.sleep(0)

    async def _resubscribe(self) -> None:
        """After the layer failed: join the groups again (a restarted Redis has forgotten
        them) and deliver from the database whatever was posted meanwhile."""
        try:
            await self._refresh()
        except Exception:
            log.warning("resubscribe failed; will retry")

    async def _refresh_forever(self) -> None:
        """Every CHAT_FANOUT_REFRESH_SECONDS: renew group memberships, catch up rooms that
        fell behind the database, and close sockets whose session ended.

        Why: the layer delivers at most once and may fail silently. channels-redis' core
        layer drops a member after `group_expiry` (a day by default) unless it is added
        again; the pub/sub layer reconnects and resubscribes by itself, so `_run` never sees
        an error, but what was published while Redis was away is gone, and without a later
        message to reveal the gap, the room's last messages would never be delivered. One
        query for all local rooms per interval bounds that delay.
        """
        while True:
            await asyncio.sleep(settings.CHAT_FANOUT_REFRESH_SECONDS)
            try:
                await self._refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("fan-out refresh failed; will retry", exc_info=True)
            try:
                await self._check_sessions()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("session check failed; will retry", exc_info=True)

    async def _refresh(self) -> None:
        groups = [ACTIVITY_GROUP, *(room_group(slug) for slug in self.rooms)]
        groups += [user_group(user_id) for user_id in self.users]
        for group in groups:
            await self.layer.group_add(group, self.channel)
        if not self.rooms:
            return
        latest = await database_sync_to_async(selectors.last_seqs)(list(self.rooms))
        for slug, last_seq in latest.items():
            feed = self.rooms.get(slug)
            if feed is not None and feed.cursor is not None and feed.cursor < last_seq:
                metrics.CATCH_UPS.inc()
                async with feed.lock:
                    await self._fill(feed, before=None)

    async def _check_sessions(self) -> None:
        """Close (4403) the local sockets whose session no longer logs their user in: a
        password change, a session deleted on the server, expiry (chat/sessions.py)."""
        conns = [conn for mine in self.users.values() for conn in mine if not conn.closed]
        if not conns:
            return
        entries = [(conn.session_key, conn.user_id, conn.password) for conn in conns]
        changes = await database_sync_to_async(sessions.check)(entries)
        for conn in conns:
            if conn.session_key not in changes:
                continue
            marker = changes[conn.session_key]
            if marker is not None:
                conn.password = marker  # this session changed the password: it stays
            elif not conn.closed:
                log.info("session ended; closing room=%s user=%s", conn.room, conn.user_id)
                conn.abandon()
                self._in_background(self._disconnect(conn, CloseCode.REMOVED))

    async def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        feed = self.rooms.get(event.get("room") or "")
        if kind == "chat.messages":
            if feed is not None:
                async with feed.lock:
                    if feed.life:
                        await self._flush_life(feed)  # in the same write as the batch
                    self._drop_slow(feed)
                    alone = len(event["messages"]) == 1
                    for seq, text in event["messages"]:
                        await self._deliver(feed, seq, text, now=alone)
        elif kind == "chat.room" and "skip_user" in event:  # typing: ephemeral
            if feed is not None:
                self._queue_life(feed, Life(event["text"], event["skip_user"], None))
        elif kind == "chat.room":
            if feed is not None:
                async with feed.lock:  # _send_all cuts the sockets that fell behind
                    frame = {"type": "websocket.send", "text": event["text"]}
                    await self._send_all(feed.conns, frame, skip_user=event.get("skip_user"))
        elif kind == "chat.user":
            user_id = event.get("user_id")
            if "counts" in event and user_id in self.users:
                slug, *counts = event["counts"]
                self.sent.setdefault(user_id, {})[slug] = protocol.Counts(*counts)
            frame = {"type": "websocket.send", "text": event["text"]}
            await self._send_all(self.users.get(user_id, ()), frame)
        elif kind == "chat.presence":
            if feed is not None:
                self._schedule_recount(feed)
        elif kind == "chat.activity":
            self.dirty.add(event["room"])
            self._schedule_flush()
        elif kind == "chat.rooms":
            self.lists_dirty = True
            self._schedule_flush()
        elif kind == "chat.close":
            await self._close(event)

    async def _deliver(self, feed: RoomFeed, seq: int, text: str, *, now: bool) -> None:
        if feed.cursor is None or seq <= feed.cursor:
            return
        if seq > feed.cursor + 1:
            await self._fill(feed, before=seq)
        await self._send_message(feed, seq, text, now=now)

    async def _fill(self, feed: RoomFeed, before: int | None) -> None:
        """Deliver from the database what lies between the cursor and `before`."""
        while feed.cursor is not None and (before is None or feed.cursor + 1 < before):
            rows = await database_sync_to_async(selectors.messages_in_range)(
                feed.slug, feed.cursor, before, FILL_BATCH
            )
            if not rows:
                return
            metrics.GAP_FILLS.inc()
            self._drop_slow(feed)  # a long gap comes in pages: the same bound for each
            for message in rows:
                frame = protocol.message_frame(message)
                await self._send_message(feed, message.seq, frame, now=False)

    async def _send_message(self, feed: RoomFeed, seq: int, text: str, *, now: bool) -> None:
        feed.cursor = seq
        frame = {"type": "websocket.send", "text": text}
        sent = 0
        for conn in tuple(feed.conns):
            if conn.last_seq < seq:  # a socket that joined later already has it
                conn.last_seq = seq
                await conn.put(frame, now=now)
                sent += 1
        metrics.DELIVERIES.inc(sent)

    async def _send_all(
        self, conns: Iterable[Connection], frame: dict[str, Any], *, skip_user: int | None = None
    ) -> None:
        for conn in tuple(conns):
            if conn.user_id == skip_user:
                continue
            if conn.behind():
                self.cut(conn)
            else:
                await conn.put(frame)

    def _drop_slow(self, feed: RoomFeed) -> None:
        """Disconnect the room's sockets that fell SEND_BUFFER_BYTES behind. Closing may
        wait for the stalled socket, so it runs beside the room's delivery, not in it."""
        for conn in tuple(feed.conns):
            if not conn.closed and conn.behind():
                self.cut(conn, CLOSE_TOO_SLOW)

    async def _disconnect(self, conn: Connection, code: int) -> None:
        metrics.CLOSES.labels(str(int(code))).inc()
        try:
            await conn.send({"type": "websocket.close", "code": int(code)})
        except Exception:
            log.debug("close of socket in room %s failed; it is gone already", conn.room)
        await self.leave(conn)

    async def _close(self, event: dict[str, Any]) -> None:
        room, user_id = event.get("room"), event.get("user_id")
        if room is not None:
            feed = self.rooms.get(room)
            if feed is None:
                return
            # A socket whose join holds the lock has passed its ban check before this close
            # was published: wait for it to be in the room, so the close reaches it too.
            async with feed.lock:
                keep = set(event.get("keep") or ())
                targets = [
                    c
                    for c in feed.conns
                    if (user_id is None or c.user_id == user_id) and c.user_id not in keep
                ]
        else:
            targets = list(self.users.get(user_id, ()))
        for conn in targets:
            conn.abandon()  # nothing may follow the close frame
            await self._disconnect(conn, event["code"])


class LifeTexts:
    """The texts of one flush of a room's ephemeral frames, for each socket: the frames
    queued since it joined, but its own user's; presence changes beyond
    PRESENCE_FRAMES_MAX as one `presence_changes` frame. Nearly every socket of a room
    gets the same texts, so they are built once for each kind of socket: by how many of
    the frames came before it joined and whether its user is among them."""

    def __init__(self, frames: list[Life], base: int) -> None:
        self.frames, self.base = frames, base
        self.names = {frame.skip_name for frame in frames if frame.skip_name is not None}
        self.users = {frame.skip_user for frame in frames if frame.skip_user is not None}
        self.built: dict[tuple[int, str | None, int | None], list[str]] = {}

    def of(self, conn: Connection) -> list[str]:
        start = max(0, conn.life_from - self.base)
        name = conn.username if conn.username in self.names else None
        user = conn.user_id if conn.user_id in self.users else None
        key = (start, name, user)
        if key not in self.built:
            self.built[key] = self._build(start, name, user)
        return self.built[key]

    def _build(self, start: int, name: str | None, user: int | None) -> list[str]:
        mine = [
            frame
            for frame in self.frames[start:]
            if (name is None or frame.skip_name != name)
            and (user is None or frame.skip_user != user)
        ]
        presence = [frame for frame in mine if frame.presence is not None]
        if len(presence) <= PRESENCE_FRAMES_MAX:
            return [frame.text for frame in mine]
        changes = dict(frame.presence for frame in presence)  # type: ignore[misc]
        rest = [frame.text for frame in mine if frame.presence is None]
        if len(changes) <= PRESENCE_FRAMES_MAX:  # one user came and went: their last state
            told = [protocol.presence_frame(name, up) for name, up in changes.items()]
            return [*told, *rest]
        return [protocol.presence_changes_frame(changes), *rest]


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """Give a waiting join its outcome (an exception is raised in it), unless it is gone."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


_instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = (
    weakref.WeakKeyDictionary()
)


def get_fanout() -> Fanout:
    """The fan-out of the running event loop (one per server process; tests get a fresh one
    with each loop)."""
    loop = asyncio.get_running_loop()
    fanout = _instances.get(loop)
    if fanout is None:
        fanout = _instances[loop] = Fanout()
    return fanout
