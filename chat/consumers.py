"""The WebSocket endpoint ws/chat/<room>/: parse a frame, call a service, send the answer.

Live frames for the room do not pass through here: chat.fanout writes them straight to
this socket's ASGI send.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import Error as DatabaseError
from django.utils import timezone

from . import permissions, protocol, ratelimit, selectors, services
from .errors import ChatError, CloseCode, Forbidden, Unavailable
from .fanout import Connection, get_fanout
from .models import Room

log = logging.getLogger("chat")

INBOX_MAX = 100  # frames read ahead of the one being handled
# Posts stored in one transaction, and published as one event. The characters cap keeps an
# event (and what it adds to each socket's send buffer at once) to ~100 KB at most.
POST_BATCH_MAX = 50
POST_BATCH_CHARS = 16_000


class ChatConsumer(AsyncWebsocketConsumer):
    room: Room
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
            if self.conn is not None:
                self.conn.abandon()
                await get_fanout().leave(self.conn)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first closes stale DB connections in a thread hop; every
        # database call here goes through database_sync_to_async, which does that itself.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is not None:
            await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        slug = protocol.normalize_slug(self.scope["url_route"]["kwargs"].get("room"))
        if slug is None or user is None or not user.is_authenticated or not user.is_active:
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
        self.conn = Connection(
            room.slug,
            user.pk,
            self.base_send,
            session_key=self.scope.get("session_key", ""),
            password=hash(user.password),
        )
        try:
            await get_fanout().join(self.conn, self._send_welcome)
        except ChatError:
            # banned while the handshake ran (see _welcome)
            await self.close(code=CloseCode.REMOVED)
            return
        log.info("connect room=%s user=%s", room.slug, user.get_username())

    async def _send_welcome(self) -> int:
        frames, last_seq = await database_sync_to_async(_welcome)(
            self.room, self.user, protocol.parse_since(self.scope.get("query_string", b""))
        )
        if frames is None:
            raise Forbidden("You are banned from this room.")
        for frame in frames:
            await self._send(frame)
        return last_seq

    async def _send(self, text: str) -> None:
        """Every frame this socket gets from here (answers, welcome, errors) takes the
        fan-out's bounded path, in order with the room's live frames: a client that stops
        reading is cut with 4408 once it has CHAT_SEND_BUFFER_BYTES unread, whatever it
        asked for, instead of growing the server without bound."""
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
                self.room.slug,
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
                if isinstance(head, protocol.Post):
                    await self._answer(self._post(_batch(head, inbox)))
                elif isinstance(head, ChatError):
                    await self._send(protocol.error_frame(head))
                else:
                    await self._answer(self._command(head))
        except Exception:
            log.exception("failed to answer frames room=%s", self.room.slug)
        finally:
            inbox.clear()  # closed (or a bug of ours): what is left needs no answer
            self.worker = None
            self.inbox = None  # empty: no await since the loop saw it so

    async def _answer(self, handling: Awaitable[None]) -> None:
        """Run a command's handler; a refusal or failure becomes an error frame."""
        try:
            await handling
        except ChatError as err:
            await self._send(protocol.error_frame(err))
        except DatabaseError:
            log.exception("database error room=%s", self.room.slug)
            await self._send(protocol.error_frame(_unavailable()))
        except Exception:
            # A bug of ours must not become a 1011 close for the client's frame.
            log.exception("failed to handle a frame room=%s", self.room.slug)
            await self._send(protocol.error_frame(_unavailable()))

    async def _command(self, command: protocol.Command) -> None:
        if isinstance(command, protocol.History):
            await self._history(command)
        elif isinstance(command, protocol.Ping):
            await self._send(await self._pong())
        else:
            await self._moderate(command)

    async def _post(self, batch: list[protocol.Post]) -> None:
        """Store a batch of posts. Their `message` frames reach every socket, this one
        included, through the fan-out; a refusal or a resend is answered here, in order."""
        allowed = []
        answers: dict[int, str] = {}
        for i, post in enumerate(batch):
            try:
                await self._rate_limit(post)
                allowed.append(post)
            except ChatError as err:
                answers[i] = protocol.error_frame(_for_post(err, post))
        try:
            outcomes = []
            if allowed:
                outcomes = await services.post_messages.acall(
                    room=self.room, user=self.user, posts=allowed
                )
        except DatabaseError:
            log.exception("post failed room=%s", self.room.slug)
            outcomes = [_not_stored() for _ in allowed]
        numbered = (i for i in range(len(batch)) if i not in answers)
        for i, post, outcome in zip(numbered, allowed, outcomes, strict=True):
            if isinstance(outcome, ChatError):
                answers[i] = protocol.error_frame(_for_post(outcome, post))
            elif not outcome.created:
                answers[i] = outcome.frame  # a resend: only the sender hears of it again
        for i in sorted(answers):
            await self._send(answers[i])

    async def _rate_limit(self, command: protocol.Post) -> None:
        try:
            await ratelimit.take(f"user:{self.user.pk}")
        except ChatError:
            # A resend of a stored message is no new message: let post_messages answer it,
            # so a client resending its outbox after a reconnect is acknowledged at once.
            if command.client_id is None or not await database_sync_to_async(selectors.has_post)(
                self.room, self.user, command.client_id
            ):
                raise

    async def _pong(self) -> str:
        try:
            last_seq = await database_sync_to_async(selectors.last_seq)(self.room.slug)
        except DatabaseError:
            return protocol.PONG  # the heartbeat answers even when the database does not
        return protocol.pong_frame(last_seq)

    async def _history(self, command: protocol.History) -> None:
        if command.after is not None:
            page = database_sync_to_async(selectors.messages_after)
            rows, has_more = await page(self.room, command.after, command.limit)
        else:
            page = database_sync_to_async(selectors.messages_before)
            rows, has_more = await page(self.room, command.before, command.limit)
        rows, cut = protocol.fit_frame(rows, keep_newest=command.after is None)
        await self._send(protocol.history_frame(rows, has_more or cut))

    async def _moderate(self, command: protocol.ModerationCommand) -> None:
        """Moderation commands and reports: one service each, answered with `ok`; a refusal
        names the command."""
        try:
            await self._moderate_one(command)
        except ChatError as err:
            err.extra.setdefault("command", command.name)
            raise

    async def _moderate_one(self, command: protocol.ModerationCommand) -> None:
        room, me = self.room, self.user
        if isinstance(command, protocol.Delete):
            await services.delete_message.acall(
                room=room, actor=me, seq=command.seq, reason=command.reason
            )
            answer = protocol.ok_frame("delete", seq=command.seq)
        elif isinstance(command, protocol.Report):
            await ratelimit.take(f"user:{me.pk}")
            await services.report_message.acall(
                room=room, reporter=me, seq=command.seq, reason=command.reason
            )
            answer = protocol.ok_frame("report", seq=command.seq)
        elif isinstance(command, protocol.Moderate):
            action = USER_ACTIONS[command.action]
            kwargs: dict[str, Any] = {"room": room, "actor": me, "user": command.user}
            if command.action in ("mute", "ban"):
                kwargs["minutes"] = command.minutes
            await action.acall(**kwargs, reason=command.reason)
            answer = protocol.ok_frame(command.action, user=command.user)
        else:
            updated = await services.update_room.acall(
                room=room, actor=me, locked=command.locked, slow_mode=command.slow_mode
            )
            answer = protocol.ok_frame("room_settings", room=protocol.room_data(updated))
        await self._send(answer)


USER_ACTIONS = {
    "mute": services.mute_user,
    "unmute": services.unmute_user,
    "ban": services.ban_user,
    "unban": services.unban_user,
    "kick": services.kick_user,
}


def _welcome(room: Room, user: Any, since: int | None) -> tuple[list[str] | None, int]:
    """The welcome frame (on a resume followed by `message_deleted` for the deleted messages
    among the RESUME_MAX below `since`, which the client may show from before it was away)
    and the last seq it covers; None when the user is banned. This runs after the fan-out
    subscribed to the room, so a ban that committed after the handshake's check is seen here
    or its close event reaches this socket."""
    member = permissions.membership(room, user)
    if member is not None and member.is_banned(timezone.now()):
        return None, 0
    username = user.get_username()
    last_seq = selectors.last_seq(room.slug) or 0
    if since is None:
        rows, has_more = selectors.messages_before(room, None, protocol.WELCOME_PAGE)
        rows, cut = protocol.fit_frame(rows, keep_newest=True)
        has_more, more_after = has_more or cut, None
    else:
        rows, more_after = selectors.messages_after(room, since, protocol.RESUME_MAX)
        rows, cut = protocol.fit_frame(rows, keep_newest=False)
        more_after = more_after or cut
        has_more = since > 0 or (bool(rows) and rows[0].seq > 1)
    if rows and rows[-1].seq > last_seq:
        last_seq = rows[-1].seq  # a post committed between the two reads
    frame = protocol.welcome_frame(
        room=room,
        username=username,
        last_seq=last_seq,
        messages=rows,
        has_more=has_more,
        has_more_after=more_after,
        moderator=permissions.rank(room, user, member) >= permissions.MODERATOR,
    )
    if since is None:
        return [frame], last_seq
    deleted = selectors.deleted_seqs(room, since - protocol.RESUME_MAX, since)
    return [frame, *map(protocol.message_deleted_frame, deleted)], last_seq


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


def _for_post(err: ChatError, post: protocol.Post) -> ChatError:
    if post.client_id is not None:
        err.extra.setdefault("client_id", post.client_id)
    return err


def _not_stored() -> ChatError:
    return Unavailable("The message could not be stored; retry with the same client_id.")


def _unavailable() -> ChatError:
    return Unavailable("The server could not handle that; please retry.")
