"""One connection after another to a room (docs/protocol.md "The client"): the handshake
with a token, the welcome, display by seq with gap fills, the outbox resent on every new
socket, a heartbeat, and reconnecting with backoff until a close says not to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from enum import Enum, IntEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from chat.client.delivery import Message, Outbox, SeqOrder, backoff_delay
from chat.client.display import Display, summary
from chat.errors import CloseCode

HISTORY_PAGE = 100  # the protocol's largest page
POLICY_VIOLATION = 1008  # what some servers (and proxies) close a refused handshake with


class State(Enum):
    CONNECTING = "connecting"  # a handshake under way, or waiting for its welcome
    CONNECTED = "connected"  # welcomed: posts go out at once
    WAITING = "waiting"  # backing off before the next attempt
    CLOSED = "closed"  # for good: run() has returned


class Exit(IntEnum):
    """The client's exit status."""

    OK = 0
    UNSENT = 1  # a post refused or unacknowledged, or never connected, when input ended
    REFUSED = 2  # the handshake was refused (bad token, or the room is not there for us)
    REMOVED = 3  # closed with 4403: banned, kicked, removed, or the token revoked or expired
    ROOM_DELETED = 4  # closed with 4404
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def room_url(base: str, room: str, since: int | None = None) -> str:
    """ws://HOST/ws/chat/<room>/[?since=N] from the server's base URL (http(s):// works
    too: the same host)."""
    parts = urlsplit(base.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") + f"/ws/chat/{room}/"
    query = f"since={since}" if since is not None else ""
    return urlunsplit((scheme, parts.netloc, path, query, ""))


class Session:
    def __init__(
        self,
        base_url: str,
        room: str,
        token: str,
        display: Display,
        *,
        ping_every: float = 15.0,
        ack_timeout: float = 10.0,
        welcome_timeout: float = 10.0,
        healthy_after: float = 5.0,
    ) -> None:
        self.base_url = base_url
        self.room = room
        self.token = token
        self.display = display
        self.ping_every = ping_every  # also how long a pong may take: half-open detection
        self.welcome_timeout = welcome_timeout
        self.healthy_after = healthy_after  # a connection this long resets the backoff

        self.state = State.CONNECTING
        self.order = SeqOrder()
        self.outbox = Outbox(ack_timeout)
        self.username: str | None = None  # from the welcome: acknowledgements are ours
        self.welcomed = False  # once welcomed, every reconnect resumes with since
        self.attempt = 0  # reconnects since the last healthy connection
        self.failed = 0  # posts refused for good
        self.result: Exit | None = None

        self._ws: Any = None
        self._since: int | None = None  # the `since` of the socket being opened
        self._asked_after: int | None = None  # the one `history` `after` in flight
        self._pong_due: float | None = None
        self._next_ping = 0.0
        self._wake = asyncio.Event()  # a post was typed: flush the outbox now
        self._progress = asyncio.Event()  # the outbox shrank or the session ended
        self._stop = asyncio.Event()

    # --- public ---------------------------------------------------------------------------

    def post(self, body: str) -> None:
        """Queue a message; it goes out now if connected, else after the next welcome."""
        self.outbox.add(body)
        self._wake.set()

    async def run(self) -> Exit:
        """Connect, and reconnect, until stopped or told not to; the exit status."""
        while self.result is None and not self._stop.is_set():
            self.state = State.CONNECTING
            self._since = self.order.last if self.welcomed else None
            try:
                ws = await websockets.connect(
                    room_url(self.base_url, self.room, self._since),
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                    ping_interval=None,  # the protocol's own ping (below) also checks last_seq
                    close_timeout=2,
                    max_size=2**24,  # a resume welcome carries up to 500 messages
                )
            except InvalidStatus as err:
                status = err.response.status_code
                if 400 <= status < 500:  # the app (or a proxy) said no: retrying cannot help
                    self._finish(Exit.REFUSED, refusal_text(status))
                    break
                why = f"HTTP {status}"
            except InvalidURI as err:
                self._finish(Exit.REFUSED, f"bad --url: {err}")
                break
            except ConnectionRefusedError:
                why = "connection refused: the server is down or restarting"
            except (OSError, TimeoutError, InvalidHandshake) as err:
                why = str(err) or type(err).__name__
            else:
                started = time.monotonic()
                why = await self._connection(ws)
                if self.welcomed and time.monotonic() - started >= self.healthy_after:
                    self.attempt = 0
            if self.result is None and not self._stop.is_set():
                await self._back_off(why)
        self.state = State.CLOSED
        self._progress.set()
        return self.result if self.result is not None else Exit.OK

    async def drain(self, seconds: float) -> bool:
        """Wait until welcomed once and every post is acknowledged or refused (True), or
        `seconds` pass. (Welcomed: so `</dev/null` still prints the latest page.)"""
        deadline = time.monotonic() + seconds
        while (self.outbox or not self.welcomed) and self.state is not State.CLOSED:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)
        return not self.outbox

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()

    # --- connections ----------------------------------------------------------------------

    def _finish(self, code: Exit, why: str) -> None:
        self.result = code
        self.display.status(why)

    async def _back_off(self, why: str) -> None:
        self.state = State.WAITING
        delay = backoff_delay(self.attempt)
        self.attempt += 1
        unsent = f", {len(self.outbox)} unsent" if self.outbox else ""
        self.display.status(f"disconnected ({why}); reconnecting in {delay:.1f} s{unsent}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _connection(self, ws: Any) -> str:
        """Serve one socket until it closes; why it ended (also setting `result` when the
        server said not to come back)."""
        if self._stop.is_set():  # stopped while the handshake was under way
            await ws.close()
            return "stopped"
        self._ws = ws
        self._asked_after = None
        self._pong_due = None
        self._next_ping = time.monotonic() + self.ping_every
        ticker: asyncio.Task[None] | None = None
        try:
            welcome = await self._await_welcome(ws)
            if welcome is None:
                return "no welcome"
            await self._on_welcome(welcome)
            ticker = asyncio.create_task(self._tick(ws))
            await self._flush()
            async for text in ws:
                await self._on_frame(read_frame(text))
        except ConnectionClosed:
            pass
        finally:
            self._ws = None
            if ticker is not None:
                ticker.cancel()
            if self.state is State.CONNECTED:
                self.state = State.CONNECTING
            with contextlib.suppress(Exception):
                await ws.close()
        code = ws.close_code
        if code == CloseCode.REMOVED:
            self._finish(
                Exit.REMOVED,
                "closed by the server (4403): banned, kicked or removed from the room, the "
                "account deactivated, or the token revoked or expired",
            )
        elif code == CloseCode.ROOM_DELETED:
            self._finish(Exit.ROOM_DELETED, "closed by the server (4404): the room was deleted")
        elif code == POLICY_VIOLATION and not self.welcomed:
            self._finish(Exit.REFUSED, refusal_text(code))
        return f"connection lost, close code {code}" if code else "connection lost"

    async def _await_welcome(self, ws: Any) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.welcome_timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = read_frame(await asyncio.wait_for(ws.recv(), left))
            except TimeoutError:
                break
            if frame.get("type") == "welcome":
                return frame
        return None

    async def _tick(self, ws: Any) -> None:
        """While connected: posts typed or due again, the heartbeat, half-open detection."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25)
            self._wake.clear()
            now = time.monotonic()
            if self._pong_due is not None and now > self._pong_due:
                self.display.status("no pong: the connection is half-open")
                await ws.close()
                return
            if self._pong_due is None and now >= self._next_ping:
                self._pong_due = now + self.ping_every
                self._next_ping = now + self.ping_every
                await self._send({"type": "ping"})
            await self._flush()

    async def _send(self, frame: dict[str, Any]) -> bool:
        if self._ws is None:
            return False
        try:
            await self._ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True

    async def _flush(self) -> None:
        """Send what the outbox says is due (all of it on a new socket)."""
        if self.state is not State.CONNECTED:
            return
        for post in self.outbox.due(time.monotonic()):
            post.sent_at = time.monotonic()  # before the await: a concurrent flush skips it
            frame = {"type": "message", "body": post.body, "client_id": post.client_id}
            if not await self._send(frame):
                post.sent_at = None
                return

    async def _fetch_after(self) -> None:
        """Ask for what lies above `last` (one request at a time)."""
        if self._asked_after is None and await self._send(
            {"type": "history", "after": self.order.last, "limit": HISTORY_PAGE}
        ):
            self._asked_after = self.order.last

    # --- frames ---------------------------------------------------------------------------

    async def _on_welcome(self, frame: dict[str, Any]) -> None:
        messages = valid_messages(frame.get("messages"))
        last_seq = frame.get("last_seq") if isinstance(frame.get("last_seq"), int) else 0
        self.username = frame.get("user")
        if not self.welcomed:
            # The latest page: shown from its first message (older ones stay on the server).
            self.order.last = messages[0]["seq"] - 1 if messages else last_seq
            older = " (older messages not shown)" if frame.get("has_more") else ""
            self.display.status(f"connected to {self.room} as {self.username}{older}")
        elif last_seq < self.order.last:
            # Our since is above the room's newest seq: it was deleted and made again.
            self.display.status(f"the room's history restarted at {last_seq}")
            self.order = SeqOrder(last_seq)
        else:
            self.order.skip_purged(self._since or 0, messages)
            unsent = f", resending {len(self.outbox)}" if self.outbox else ""
            self.display.status(f"reconnected, resuming after {self.order.last}{unsent}")
        self.welcomed = True
        self.state = State.CONNECTED
        self._progress.set()
        self.outbox.disconnected()  # resend the whole outbox on this socket
        self._receive(messages)
        if frame.get("has_more_after") or last_seq > self.order.last or self.order.gap:
            await self._fetch_after()

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message" and isinstance(frame.get("message"), dict):
            self._receive(valid_messages([frame["message"]]))
        elif kind == "history":
            after, self._asked_after = self._asked_after, None
            before = self.order.last
            messages = valid_messages(frame.get("messages"))
            if after is not None:
                self.order.skip_purged(after, messages)
            self._receive(messages)
            # More beyond this page, or a hole below what is held: ask again if it helped.
            if (frame.get("has_more") or self.order.gap) and self.order.last > before:
                await self._fetch_after()
        elif kind == "message_edited" and isinstance(frame.get("message"), dict):
            self._changed(frame["message"])
        elif kind == "message_deleted":
            self._changed({"seq": frame.get("seq"), "deleted": True, "body": "", "html": ""})
        elif kind == "reactions":
            self._changed({"seq": frame.get("seq"), "reactions": frame.get("reactions") or []})
        elif kind == "error":
            self._on_error(frame)
        elif kind == "pong":
            self._pong_due = None
            last_seq = frame.get("last_seq")
            if isinstance(last_seq, int) and last_seq > self.order.last:
                await self._fetch_after()  # a live frame went missing
        if self.order.gap:
            await self._fetch_after()

    def _receive(self, messages: list[Message]) -> None:
        """Messages from a welcome, a live frame or a history page: acknowledge our posts,
        show what is next in seq order, hold what lies beyond a gap."""
        if self.outbox.acknowledge(messages, self.username):
            self._progress.set()
        display, known = self.order.take(messages)
        for message in display:
            self.display.show(message)
        for message in known:
            self.display.change(message)  # a newer view of one shown (or a duplicate)

    def _changed(self, change: dict[str, Any]) -> None:
        """An edit, deletion or reaction: of a message held beyond a gap, or shown."""
        held = self.order.ahead.get(change.get("seq"))  # type: ignore[arg-type]
        if held is not None:
            held.update(change)
            return
        current = self.display.transcript.get(change.get("seq"))
        if current is not None:
            self.display.change({**current, **change})

    def _on_error(self, frame: dict[str, Any]) -> None:
        client_id, code = frame.get("client_id"), str(frame.get("code"))
        post = self.outbox.posts.get(client_id) if isinstance(client_id, str) else None
        detail = frame.get("detail") or code
        if post is None:
            self.display.status(f"error ({code}): {detail}")
            return
        if self.outbox.refused(client_id, code, frame.get("retry_after"), time.monotonic()):
            self.failed += 1
            self._progress.set()
            self.display.status(f'not sent ({code}: {detail}): "{summary(post.body)}"')
        elif code == "rate_limited":
            self.display.status(f"rate limited: resending in {frame.get('retry_after')} s")


def read_frame(text: str | bytes) -> dict[str, Any]:
    """A server frame: the JSON object, or {} for anything else."""
    try:
        frame = json.loads(text)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


def valid_messages(messages: Any) -> list[Message]:
    """The message objects of a batch that have a whole-number seq."""
    if not isinstance(messages, Iterable) or isinstance(messages, str | bytes | dict):
        return []
    return [m for m in messages if isinstance(m, dict) and type(m.get("seq")) is int]


def refusal_text(status: int) -> str:
    if status in (403, POLICY_VIOLATION):
        return (
            f"the server refused the connection ({status}): the token is wrong, revoked or "
            "expired, or the room does not exist or is closed to you"
        )
    return f"the server refused the connection (HTTP {status}): is --url the site's address?"
