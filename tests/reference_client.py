"""A reference chat client that follows the protocol's delivery rules (docs/protocol.md,
"Delivery guarantee"), used by the end-to-end delivery tests.

- It displays a room's messages strictly in seq order, each once: `last` is the highest seq
  displayed; a message above last + 1 waits in `pending` while the gap is fetched with
  `history` `after`; a message at or below `last` is a duplicate and dropped.
- It reconnects (exponential backoff) with `?since=<last>` and pages on with `history` `after`
  while `has_more_after` / `has_more` say there is more.
- Every post has a `client_id` and stays in the outbox until the server acknowledges it (the
  stored message with that client_id comes back); the outbox is resent after every reconnect,
  after an `unavailable` or `rate_limited` error (after `retry_after`), and when no
  acknowledgement came within `ack_timeout`. Any other error fails the post for good.
- A heartbeat `ping` every `ping_every` seconds: no `pong` in time means a half-open
  connection (reconnect); a `pong` whose `last_seq` is above `last` means a missed broadcast
  (fetch it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

HISTORY_PAGE = 100


class ReferenceClient:
    def __init__(
        self,
        name: str,
        url: Callable[[int | None], str],
        *,
        cookie: str,
        origin: str,
        backoff: tuple[float, float] = (0.05, 1.0),
        ack_timeout: float = 5.0,
        ping_every: float = 2.0,
    ) -> None:
        self.name = name  # the username: acknowledgements are our own messages
        self.url = url  # url(since) -> ws:// address of the room
        self.cookie = cookie
        self.origin = origin
        self.backoff = backoff
        self.ack_timeout = ack_timeout
        self.ping_every = ping_every

        self.last = 0  # highest seq displayed; everything up to it is displayed
        self.displayed: list[dict[str, Any]] = []  # messages in display order
        self.pending: dict[int, dict[str, Any]] = {}  # seq -> message waiting for a gap
        self.outbox: dict[str, tuple[str, float]] = {}  # client_id -> (body, last sent at)
        self.acked: dict[str, int] = {}  # client_id -> seq
        self.failed: dict[str, str] = {}  # client_id -> error code (not resent)
        self.stats = {"sent": 0, "resent": 0, "connects": 0, "history_pages": 0, "welcomes": 0}
        self.welcomes: list[dict[str, Any]] = []

        self._ids = itertools.count(1)
        self._ws: Any = None
        self._fetching = False  # one `history` `after` request in flight at a time
        self._pong_due: float | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    # --- public ---------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (and keep reconnecting) in the background; after stop(), start again."""
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"client-{self.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=10)

    async def post(self, body: str) -> str:
        """Queue a message; it is sent now if connected, else after the next reconnect."""
        client_id = f"{self.name}-{next(self._ids)}"
        self.outbox[client_id] = (body, 0.0)
        self.stats["sent"] += 1
        await self._send_post(client_id)
        return client_id

    @property
    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.displayed]

    async def wait_until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        """Wait (re-checking on a short tick) until condition() holds, or fail saying what."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: timed out waiting for {what}; {self.summary()}")
            await asyncio.sleep(0.05)

    def summary(self) -> str:
        return (
            f"last={self.last} displayed={len(self.displayed)} pending={len(self.pending)} "
            f"outbox={len(self.outbox)} acked={len(self.acked)} stats={self.stats}"
            f" welcomes={self.welcomes}"
        )

    # --- connection -----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                ws = await websockets.connect(
                    self.url(self.last),
                    additional_headers=[("Cookie", self.cookie)],
                    origin=self.origin,
                    open_timeout=5,
                    max_size=2**22,
                )
            except (TimeoutError, OSError, websockets.InvalidHandshake):
                await self._pause(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]  # a healthy connection resets the backoff
            self.stats["connects"] += 1
            try:
                await self._session(ws)
            except websockets.ConnectionClosed:
                pass
            finally:
                self._ws = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _session(self, ws: Any) -> None:
        self._fetching = False
        self._pong_due = None
        welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        assert welcome["type"] == "welcome", welcome
        self.stats["welcomes"] += 1
        self.welcomes.append({k: v for k, v in welcome.items() if k != "messages"})
        self._ws = ws
        self.connected.set()
        await self._receive_messages(welcome["messages"])
        if welcome.get("has_more_after"):
            await self._fetch_after()
        for client_id in list(self.outbox):  # resend everything not yet acknowledged
            self.stats["resent"] += 1
            await self._send_post(client_id)
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        try:
            async for text in ws:
                await self._on_frame(json.loads(text))
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(self.ping_every)
            now = time.monotonic()
            if self._pong_due is not None and now > self._pong_due:
                await ws.close()  # half-open: reconnect
                return
            if self._pong_due is None:
                self._pong_due = now + self.ping_every * 2
                await self._send({"type": "ping"})
            for client_id, (_, sent_at) in list(self.outbox.items()):
                if sent_at and now - sent_at > self.ack_timeout:
                    self.stats["resent"] += 1
                    await self._send_post(client_id)

    async def _send(self, frame: dict[str, Any]) -> bool:
        if self._ws is None:
            return False
        try:
            await self._ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            return False
        return True

    async def _send_post(self, client_id: str) -> None:
        body, _ = self.outbox[client_id]
        frame = {"type": "message", "body": body, "client_id": client_id}
        if await self._send(frame):
            self.outbox[client_id] = (body, time.monotonic())

    async def _fetch_after(self) -> None:
        if not self._fetching and await self._send(
            {"type": "history", "after": self.last, "limit": HISTORY_PAGE}
        ):
            self._fetching = True

    # --- frames ---------------------------------------------------------------------------

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message":
            await self._receive_messages([frame["message"]])
        elif kind == "history":
            self.stats["history_pages"] += 1
            self._fetching = False
            await self._receive_messages(frame["messages"])
            if frame["has_more"]:
                await self._fetch_after()
        elif kind == "pong":
            self._pong_due = None
            if frame.get("last_seq", 0) > self.last:
                await self._fetch_after()
        elif kind == "error":
            client_id = frame.get("client_id")
            if client_id in self.outbox:
                if frame["code"] in ("unavailable", "rate_limited"):  # retry later
                    self.outbox[client_id] = (self.outbox[client_id][0], 0.0)
                    asyncio.get_running_loop().call_later(
                        float(frame.get("retry_after", 0.2)),
                        lambda: asyncio.ensure_future(self._send_post_if_queued(client_id)),
                    )
                else:
                    del self.outbox[client_id]
                    self.failed[client_id] = frame["code"]

    async def _send_post_if_queued(self, client_id: str) -> None:
        if client_id in self.outbox:
            self.stats["resent"] += 1
            await self._send_post(client_id)

    async def _receive_messages(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            client_id = message.get("client_id")
            if message["user"] == self.name and client_id is not None:
                self.acked.setdefault(client_id, message["seq"])  # stored: acknowledged
                self.outbox.pop(client_id, None)
            if message["seq"] > self.last:
                self.pending.setdefault(message["seq"], message)  # else a duplicate
        while self.last + 1 in self.pending:
            message = self.pending.pop(self.last + 1)
            self.displayed.append(message)
            self.last = message["seq"]
        if self.pending:  # a jump: fetch the gap
            await self._fetch_after()
