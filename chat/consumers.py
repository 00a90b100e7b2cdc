"""The WebSocket endpoints: a room's socket `ws/chat/<room>/` and the home socket
`ws/chat/`. Each frame is parsed (chat/protocol.py), dispatched through the command
registry (chat/commands.py) and answered through the socket's bounded send path.

Live frames (the room's stream and the user's) do not pass through here: chat.fanout
writes them straight to the socket's ASGI send, through the same Connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import Error as DatabaseError

from . import commands, metrics, protocol, selectors, services
from .errors import BadRequest, ChatError, CloseCode, Unavailable
from .fanout import Connection, get_fanout
from .models import Room

log = logging.getLogger("chat")

INBOX_MAX = 100  # frames read ahead of the one being handled
# Posts stored in one transaction, and published as one event. The characters cap keeps an
# event (and what it adds to each socket's send buffer at once) to ~100 KB at most.
POST_BATCH_MAX = 50
POST_BATCH_CHARS = 16_000


class SocketConsumer(AsyncWebsocketConsumer):
    """What both sockets share: the handshake's user, the bounded send path, and frames
    handled in order by one worker task per socket."""

    room: Room | None = None
    conn: Connection | None = None
    worker: asyncio.Task[None] | None = None
    # Frames waiting for the worker; made when needed (an idle socket holds none: ~0.8 KiB).
    inbox: deque[protocol.Command | ChatError] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Channels' AsyncConsumer.__call__ waits on the client and the consumer's channel
        # with await_many_dispatch, which keeps a Task and asyncio.wait's waiter alive per
        # idle socket (~3 KiB measured). This consumer has no channel-layer channel of its
        # own (the process's fan-out holds the only one), so it has only the client to wait
        # for: await it directly.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # Also when a bug of ours ends the consumer: a dead socket must not stay in the
            # fan-out (leave is idempotent; disconnect() has normally called it already).
            # Synchronous, so it holds even while the task is being cancelled (shutdown).
            if self.conn is not None:
                self.conn.abandon()
                get_fanout().evict(self.conn)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first closes stale DB connections in a thread hop; every
        # database call here goes through database_sync_to_async, which does that itself.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is not None:
            await handler(message)

    def _authenticated(self) -> Any:
        """The handshake's user when it may chat at all, else None (refuse: HTTP 403)."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return user

    def _connection(self, room: str, user: Any) -> Connection:
        return Connection(
            room,
            user.pk,
            self.base_send,
            session_key=self.scope.get("session_key", ""),
            password=hash(user.password),
            username=user.get_username(),
        )

    async def answer(self, text: str) -> None:
        """Every frame this socket gets from here (answers, welcome, errors) takes the
        fan-out's bounded path, in order with the live frames: a client that stops reading
        is cut with 4408 once it has CHAT_SEND_BUFFER_BYTES unread, whatever it asked for,
        instead of growing the server without bound."""
        conn = self.conn
        if conn is None or conn.closed:
            return
        if conn.behind():
            get_fanout().cut(conn)
            return
        await conn.put({"type": "websocket.send", "text": text})

    async def disconnect(self, code: int) -> None:
        if self.conn is not None:
            await get_fanout().leave(self.conn)
            log.info(
                "disconnect room=%s user=%s code=%s",
                self.conn.room or "-",
                self.user.get_username(),
                code,
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Frames are handled in order by one task per socket, started when one arrives. Posts
        # that arrive while earlier ones are being stored wait in the inbox and are stored
        # together in the next transaction (group commit: one transaction per batch, not one
        # per post). A full inbox stops reading the socket until it is handled.
        if self.conn is None or self.conn.closed:
            return  # nobody to answer: the socket is closing
        if self.inbox is None:
            self.inbox = deque()
        try:
            self.inbox.append(protocol.parse_frame(text_data, bytes_data))
        except ChatError as err:
            self.inbox.append(err)
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._work())
        elif len(self.inbox) >= INBOX_MAX:
            await asyncio.wait({self.worker})

    async def _work(self) -> None:
        inbox = self.inbox
        assert inbox is not None
        try:
            while inbox and self.conn is not None and not self.conn.closed:
                head = inbox.popleft()
                if isinstance(head, ChatError):
                    metrics.REFUSED.labels(head.code).inc()
                    await self.answer(protocol.error_frame(head))
                elif isinstance(head, protocol.Post):
                    await self._run("message", _batch(head, inbox))
                elif isinstance(head, protocol.Read):
                    await self._run("read", _latest_read(head, inbox))
                else:
                    await self._run(head.name, head)
        except Exception:
            log.exception("failed to answer frames room=%s", self.conn and self.conn.room)
        finally:
            inbox.clear()  # closed (or a bug of ours): what is left needs no answer
            self.worker = None
            self.inbox = None  # empty: no await since the loop saw it so

    async def _run(self, name: str, command: Any) -> None:
        """Dispatch through the registry; a refusal or failure becomes an error frame."""
        entry = commands.REGISTRY[name]
        try:
            if self.room is None and not entry.home:
                raise BadRequest(f"{name!r} needs a room: send it on ws/chat/<room>/.")
            await entry.handle(self, command)
        except ChatError as err:
            if name in protocol.NAMES_COMMAND:
                err.extra.setdefault("command", name)
            metrics.REFUSED.labels(err.code).inc()
            await self.answer(protocol.error_frame(err))
        except DatabaseError:
            metrics.DATABASE_ERRORS.inc()
            log.exception("database error room=%s", self.conn and self.conn.room)
            await self.answer(protocol.error_frame(_unavailable()))
        except Exception:
            # A bug of ours must not become a 1011 close for the client's frame.
            log.exception("failed to handle a frame room=%s", self.conn and self.conn.room)
            await self.answer(protocol.error_frame(_unavailable()))


class ChatConsumer(SocketConsumer):
    """`ws/chat/<room>/`: the room's stream and the user's."""

    room: Room

    async def connect(self) -> None:
        user = self._authenticated()
        slug = protocol.normalize_slug(self.scope["url_route"]["kwargs"].get("room"))
        if slug is None or user is None:
            await self.close()  # before accept: the handshake gets HTTP 403
            return
        self.user = user
        try:
            room = await services.open_room.acall(slug=slug, user=user)
        except DatabaseError:
            log.exception("cannot open room %s", slug)
            await self.close()
            return
        if room is None:
            await self.close()
            return
        self.room = room
        await self.accept()
        self.conn = self._connection(room.slug, user)
        try:
            since = protocol.parse_since(self.scope.get("query_string", b""))
            await get_fanout().join(self.conn, room, user, since, self._send_welcome)
        except ChatError:
            # banned while the handshake ran (see selectors.welcome)
            await self.close(code=int(CloseCode.REMOVED))  # autobahn wants a plain int
            return
        except DatabaseError:
            # The welcome could not be read (for the whole batch of joins it was read
            # with): "try again later", which clients take as any drop, reconnecting.
            log.exception("cannot welcome a socket into room %s", slug)
            await self.close(code=int(CloseCode.TRY_AGAIN))
            return
        log.info("connect room=%s user=%s", room.slug, user.get_username())

    async def _send_welcome(self, welcome: selectors.Welcome, shared: protocol.WelcomeParts) -> int:
        """Send the welcome the fan-out read for this socket, with what its batch shares
        (who is present, the page: encoded once), and the changes below a resume's
        `since`; the last seq it covers."""
        self.room = welcome.room  # read after the subscription: the freshest
        username = self.user.get_username()
        await self.answer(
            protocol.welcome_frame(
                room=self.room,
                username=username,
                last_seq=welcome.last_seq,
                messages=welcome.messages,
                has_more=welcome.has_more,
                has_more_after=welcome.has_more_after,
                moderator=welcome.moderator,
                shared=shared,
                last_read=welcome.last_read,
                muted_until=welcome.muted_until,
                members=welcome.members,
            )
        )
        for seq in welcome.deleted:
            await self.answer(protocol.message_deleted_frame(seq))
        for message in welcome.changed:  # edits and reactions made while it was away
            if message.edited_at is not None:
                await self.answer(protocol.message_edited_frame(message))
            else:
                await self.answer(protocol.reactions_frame(message.seq, message.reactions))
        return welcome.last_seq


class HomeConsumer(SocketConsumer):
    """`ws/chat/`: no room; a `hello` with the user's rooms, then the user's stream."""

    async def connect(self) -> None:
        user = self._authenticated()
        if user is None:
            await self.close()
            return
        self.user = user
        await self.accept()
        self.conn = self._connection("", user)
        await get_fanout().join_home(self.conn, self._send_hello)
        log.info("connect home user=%s", user.get_username())

    async def _send_hello(self) -> None:
        rooms = await database_sync_to_async(selectors.room_summaries)(self.user)
        await self.answer(protocol.hello_frame(self.user.get_username(), rooms))


def _batch(first: protocol.Post, inbox: deque[protocol.Command | ChatError]) -> list[protocol.Post]:
    """`first` and the posts queued right behind it in `inbox`, up to a batch's size."""
    batch, chars = [first], len(first.body)
    while inbox and len(batch) < POST_BATCH_MAX:
        post = inbox[0]
        if not isinstance(post, protocol.Post) or chars + len(post.body) > POST_BATCH_CHARS:
            break
        batch.append(inbox.popleft())
        chars += len(post.body)
    return batch


def _latest_read(first: protocol.Read, inbox: deque[protocol.Command | ChatError]) -> protocol.Read:
    """Of `first` and the reads queued right behind it, the highest: a client scrolling
    through a backlog says `read` often, and only the last one can raise the marker."""
    latest = first
    while inbox and isinstance(inbox[0], protocol.Read):
        read = inbox.popleft()
        if read.seq > latest.seq:
            latest = read
    return latest


def _unavailable() -> ChatError:
    return Unavailable("The server could not handle that; please retry.")
