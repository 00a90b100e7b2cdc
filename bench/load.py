"""The load clients: receiver worker processes and the sender, speaking either our protocol
(the site) or the tutorial's frames (tutorial, bare).

Each message a sender posts carries `bench:<index>:<monotonic ns>` in its body, so every
receiver measures latency from the payload itself (CLOCK_MONOTONIC is shared by all
processes of the machine) and counts what it lost by index.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing as mp
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .servers import cpu_seconds

# The payload at the start of a JSON string (a message's "body", the tutorial's "message"):
# the site's message objects also carry the body rendered as `html` ("<p>bench:1:..."),
# which must not count as a second copy.
PAYLOAD = re.compile(r'"bench:(\d+):(\d+)')
SEQ = re.compile(r'"seq":(\d+)')
REPLAY_PREFIXES = ('{"type":"welcome"', '{"type":"history"')
PRESENCE_PREFIX, TYPING_PREFIX = '{"type":"presence"', '{"type":"typing"'
LIFE_PREFIXES = (PRESENCE_PREFIX, TYPING_PREFIX)
UNREAD_PREFIX = '{"type":"unread"'  # (presence_changes starts as presence does)
TYPING_FRAME = json.dumps({"type": "typing"})
# Handshakes in flight per worker: the site's handshake reads the session, the room and the
# welcome page, and daphne drops a handshake that takes over 5 s.
CONNECT_CONCURRENCY = 20
CONNECT_ATTEMPTS = 3


@dataclass
class ConnSpec:
    url: str  # for a resume, "{since}" is replaced by the last seq seen
    headers: list[tuple[str, str]] = field(default_factory=list)
    origin: str | None = None
    stall: bool = False  # stop reading after the welcome (a slow or stalled client)
    resume_url: str | None = None  # where a stalled client resumes (site only)
    typing_every: float = 0.0  # a typist: sends {"type":"typing"} this often (seconds)
    deflate: bool = False  # offer permessage-deflate, as browsers do (the idle scenario)
    home: bool = False  # a receiver's home socket (ws/chat/): reads its user's stream


@dataclass
class Job:
    conns: list[ConnSpec]
    expect: int  # bench payloads each connection should receive
    idle_timeout: float = 5.0  # give up this long after the last frame
    deadline: float = 120.0
    stall_seconds: float = 0.0  # how long stalled clients stop reading
    mode: str = "receive"  # receive | idle
    # Room life: wait for "go" on the pipe before typing and counting presence and typing
    # frames; after the results, keep the sockets open until told "close" (so receivers
    # that are done do not leave the room, a presence change, while others still receive).
    signals: bool = False
    connect_concurrency: int = CONNECT_CONCURRENCY  # handshakes in flight (bigroom: a storm)


def body(index: int, pad: int = 0, text: str = "") -> str:
    """The payload, then `pad` x's or `text` (the formatted scenario's Markdown or prose)."""
    return (
        f"bench:{index}:{time.monotonic_ns()}"
        + (" " + "x" * pad if pad else "")
        + (" " + text if text else "")
    )


# --- connections -----------------------------------------------------------------------


async def open_ws(spec: ConnSpec, url: str | None = None, **kwargs: Any) -> ClientConnection:
    sock = None
    if spec.stall:
        # A tiny receive buffer, so the server meets back-pressure after a few frames
        # instead of after the kernel's megabytes of loopback buffering.
        parts = urlsplit(url or spec.url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        kwargs.setdefault("max_queue", 2)
    return await connect(
        url or spec.url,
        additional_headers=spec.headers,
        origin=spec.origin,  # type: ignore[arg-type]
        open_timeout=60,
        ping_interval=None,
        compression="deflate" if spec.deflate else None,
        max_size=None,
        sock=sock,
        **kwargs,
    )


@dataclass
class Tally:
    """What one receiving connection saw."""

    expect: int
    got: bytearray = field(init=False)
    latencies: list[int] = field(default_factory=list)
    dup: int = 0
    last_ns: int = 0
    max_seq: int = 0
    closed_code: int | None = None
    resumed: bool = False
    done: bool = False
    # Room-life frames (never payloads), counted only while `counting` (after "go").
    counting: bool = False
    presence: int = 0
    typing: int = 0
    first_latency: int | None = None  # ns, of payload 0 (bigroom: the message sent alone)
    unread: int = 0  # `unread` frames (home sockets), counted while `counting`

    def __post_init__(self) -> None:
        self.got = bytearray(self.expect)

    def frame(self, text: str) -> None:
        if text.startswith(UNREAD_PREFIX):
            self.unread += self.counting
            return
        if text.startswith(LIFE_PREFIXES):
            if self.counting:
                if text.startswith(PRESENCE_PREFIX):
                    self.presence += 1
                else:
                    self.typing += 1
            return
        now = time.monotonic_ns()
        replay = text.startswith(REPLAY_PREFIXES)
        for match in PAYLOAD.finditer(text):
            index = int(match.group(1))
            if index >= self.expect:
                continue
            if self.got[index]:
                self.dup += 1
                continue
            self.got[index] = 1
            if not replay:
                self.latencies.append(now - int(match.group(2)))
                self.last_ns = now
                if index == 0:
                    self.first_latency = now - int(match.group(2))
        seqs = SEQ.findall(text)
        if seqs:
            self.max_seq = max(self.max_seq, int(seqs[-1]))

    @property
    def received(self) -> int:
        return sum(self.got)

    def complete(self) -> bool:
        return self.received >= self.expect


async def receive_until_done(ws: ClientConnection, tally: Tally) -> None:
    """Read until every expected payload arrived or the connection closed; the worker's
    watchdog cancels this when the room went quiet (no wait_for per frame: that costs a
    task per frame, and the client must not be the bottleneck)."""
    try:
        async for text in ws:
            if isinstance(text, str):
                tally.frame(text)
                if tally.complete():
                    return
    except websockets.ConnectionClosed:
        pass
    tally.closed_code = ws.close_code or 1006


async def resume(spec: ConnSpec, tally: Tally, job: Job, end: float) -> None:
    """Reconnect with ?since= and page through history until nothing is missing."""
    assert spec.resume_url is not None
    tally.resumed = True
    ws = await open_ws(
        ConnSpec(url=spec.resume_url, headers=spec.headers, origin=spec.origin),
        spec.resume_url.format(since=tally.max_seq),
    )
    try:
        while not tally.complete() and time.monotonic() < end:
            # Generous: five clients resuming at once each ask for ~1 MB of history from a
            # server that reads it in one database thread.
            text = await asyncio.wait_for(ws.recv(), job.idle_timeout * 4)
            tally.frame(text)  # type: ignore[arg-type]
            if text.startswith(REPLAY_PREFIXES) and not tally.complete():  # type: ignore[union-attr]
                frame = json.loads(text)
                if frame.get("has_more_after") or frame.get("has_more"):
                    await ws.send(
                        json.dumps({"type": "history", "after": tally.max_seq, "limit": 100})
                    )
    finally:
        await ws.close()


async def type_until_done(
    ws: ClientConnection, tally: Tally, every: float, go: asyncio.Event, sent: list[int]
) -> None:
    """A typist: `{"type":"typing"}` every `every` seconds from "go" until its socket has
    every payload (the server broadcasts at most one per user and room per second)."""
    await go.wait()
    with contextlib.suppress(websockets.ConnectionClosed):
        while not tally.done:
            await ws.send(TYPING_FRAME)
            sent[0] += 1
            await asyncio.sleep(every)


async def run_one(
    spec: ConnSpec,
    ws: ClientConnection,
    tally: Tally,
    job: Job,
    healthy_done: asyncio.Event,
    go: asyncio.Event,
    typed: list[int],
) -> None:
    if spec.home:
        # Reads its user's stream until the room's receivers are done, as a page would.
        reader = asyncio.create_task(receive_until_done(ws, tally))
        await healthy_done.wait()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        tally.done = True
        return
    if spec.stall:
        # Not reading while the room is busy (at most stall_seconds): the server must cope.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(healthy_done.wait(), job.stall_seconds)
    typist = None
    if spec.typing_every:
        typist = asyncio.create_task(type_until_done(ws, tally, spec.typing_every, go, typed))
    try:
        await receive_until_done(ws, tally)
    finally:
        tally.done = True
        if typist is not None:
            typist.cancel()
            await asyncio.gather(typist, return_exceptions=True)
    if spec.stall and not tally.complete() and spec.resume_url:
        await ws.close()
        await resume(spec, tally, job, time.monotonic() + job.deadline)
    elif not job.signals:
        await ws.close()  # else the worker closes every socket at once when told


async def watchdog(
    specs: list[ConnSpec],
    tallies: list[Tally],
    tasks: list[asyncio.Task[None]],
    job: Job,
    healthy_done: asyncio.Event,
) -> None:
    """Stop the readers when the room has been quiet for idle_timeout, or at the deadline;
    release the stalled readers once the healthy ones are done."""
    start = time.monotonic_ns()
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.25)
        if not healthy_done.is_set() and all(
            t.done for s, t in zip(specs, tallies, strict=True) if not (s.stall or s.home)
        ):
            healthy_done.set()
        now = time.monotonic_ns()
        last = max([start] + [t.last_ns for t in tallies])
        quiet = (now - last) / 1e9 > job.idle_timeout + job.stall_seconds
        if quiet or (now - start) / 1e9 > job.deadline:
            for task, tally in zip(tasks, tallies, strict=True):
                if not tally.done:
                    task.cancel()
            break
    await asyncio.gather(*tasks, return_exceptions=True)


async def worker_main(job: Job, pipe: Any) -> None:
    sem = asyncio.Semaphore(job.connect_concurrency)

    async def connected(spec: ConnSpec) -> ClientConnection:
        async with sem:
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    return await open_ws(spec)
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise AssertionError("unreachable")

    healthy_done, go = asyncio.Event(), asyncio.Event()
    reading: dict[int, tuple[Tally, asyncio.Task[None], list[int]]] = {}

    def read(i: int, spec: ConnSpec, ws: ClientConnection) -> None:
        tally, typed = Tally(job.expect), [0]
        task = asyncio.create_task(run_one(spec, ws, tally, job, healthy_done, go, typed))
        reading[i] = (tally, task, typed)

    async def opened(i: int, spec: ConnSpec) -> ClientConnection:
        ws = await connected(spec)
        if job.signals:
            # Ready once in the room: the site accepts a socket before it joins it to its
            # room (one join at a time per room), and the welcome is the join's first frame.
            text = await ws.recv()
            first = '{"type":"hello"' if spec.home else '{"type":"welcome"'
            if not isinstance(text, str) or not text.startswith(first):
                raise RuntimeError(f"no welcome: {str(text)[:200]}")
            # Read from now on: the room's other joins send it presence frames, and a socket
            # left unread for the minute 1,000 joins take stops answering pings (dropped).
            read(i, spec, ws)
        return ws

    results = await asyncio.gather(
        *(opened(i, s) for i, s in enumerate(job.conns)), return_exceptions=True
    )
    opened_ok = [
        (i, s, r)
        for i, (s, r) in enumerate(zip(job.conns, results, strict=True))
        if not isinstance(r, Exception)
    ]
    conns = [(s, ws) for _, s, ws in opened_ok]
    errors = [repr(r) for r in results if isinstance(r, Exception)]
    loop = asyncio.get_running_loop()
    pipe.send({"ready": len(conns), "errors": errors[:5]})
    if job.mode == "idle":
        await loop.run_in_executor(None, pipe.recv)  # hold them open until told
        await asyncio.gather(*(ws.close() for _, ws in conns), return_exceptions=True)
        pipe.send({"closed": len(conns)})
        return
    for i, spec, ws in opened_ok:
        if i not in reading:
            read(i, spec, ws)
    tallies = [reading[i][0] for i, _, _ in opened_ok]
    tasks = [reading[i][1] for i, _, _ in opened_ok]
    typed = [reading[i][2] for i, _, _ in opened_ok]
    if job.signals:
        # Typing and the room-life counts start with the burst.
        await loop.run_in_executor(None, pipe.recv)
        for t in tallies:
            t.counting = True
    go.set()
    await watchdog([s for s, _ in conns], tallies, tasks, job, healthy_done)
    out = []
    for (spec, _), t, task, n in zip(conns, tallies, tasks, typed, strict=True):
        error = None
        if not task.cancelled() and task.exception() is not None:
            error = repr(task.exception())
        out.append(
            {
                "stall": spec.stall,
                "error": error,
                "received": t.received,
                "dup": t.dup,
                "latencies": t.latencies,
                "last_ns": t.last_ns,
                "closed_code": t.closed_code,
                "resumed": t.resumed,
                "presence": t.presence,
                "typing": t.typing,
                "typing_sent": n[0],
                "first_latency": t.first_latency,
                "home": spec.home,
                "unread": t.unread,
            }
        )
    pipe.send({"conns": out, "errors": errors[:5], "failed_connects": len(errors)})
    if job.signals:
        await loop.run_in_executor(None, pipe.recv)  # "close"
        await asyncio.gather(*(ws.close() for _, ws in conns), return_exceptions=True)
        pipe.send({"closed": len(conns)})


def worker_entry(job: Job, pipe: Any) -> None:
    try:  # the faster loop, so the load client is less of a limit
        import uvloop

        uvloop.run(worker_main(job, pipe))
    except ImportError:
        asyncio.run(worker_main(job, pipe))


class Workers:
    """Receiver processes (several when one client process would be the bottleneck)."""

    def __init__(self, jobs: list[Job]) -> None:
        ctx = mp.get_context("spawn")
        self.pipes = []
        self.procs = []
        for job in jobs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_entry, args=(job, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    async def _recv(self, pipe: Any, wait: float) -> Any:
        # Short polls, so an interrupted run (Ctrl-C) stops its servers at once.
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + wait
        while not await loop.run_in_executor(None, pipe.poll, 1.0):
            if time.monotonic() > deadline:
                raise TimeoutError("a load worker did not answer in time")
        return pipe.recv()

    async def gather(self, wait: float) -> list[Any]:
        return list(await asyncio.gather(*(self._recv(p, wait) for p in self.pipes)))

    def cpu_seconds(self) -> float:
        """CPU time the worker processes have used so far."""
        return sum(cpu_seconds(proc.pid) for proc in self.procs if proc.pid is not None)

    def tell(self, message: Any) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def join(self) -> None:
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()


def split(specs: list[ConnSpec], parts: int, job_args: dict[str, Any]) -> list[Job]:
    parts = max(1, min(parts, len(specs)))
    return [Job(conns=specs[i::parts], **job_args) for i in range(parts)]


# --- the sender ------------------------------------------------------------------------


def post_text(target: str, text: str) -> str:
    if target == "site":
        return json.dumps({"type": "message", "body": text})
    return json.dumps({"message": text})


class Sender:
    """Posts messages as fast as the server takes them, or at a rate. It keeps at most
    WINDOW posts unanswered (its own message coming back is the answer), as a real client
    waits for acks: a sender that floods the socket with thousands of frames makes the
    server's keepalive ping wait behind them (uvicorn then drops the connection after 20 s,
    with the posts it had not read yet). It reads everything it receives, so it never
    back-pressures the server, and stays connected until closed."""

    WINDOW = 100

    def __init__(self, spec: ConnSpec, target: str) -> None:
        self.spec = spec
        self.target = target
        self.window = asyncio.Semaphore(self.WINDOW)

    async def __aenter__(self) -> Sender:
        self.ws = await open_ws(self.spec)
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                if isinstance(text, str) and not text.startswith(REPLAY_PREFIXES):
                    for _ in PAYLOAD.finditer(text):
                        self.window.release()
        except websockets.ConnectionClosed:
            pass

    async def post_history(self, count: int) -> None:
        """Posts `count` messages that carry no payload (a room's history before a run)."""
        for i in range(count):
            await self.ws.send(post_text(self.target, f"an earlier message, number {i}"))

    async def send(
        self, count: int, rate: float | None = None, pad: int = 0, text: str = "", start: int = 0
    ) -> tuple[int, int]:
        """Posts payloads start .. start + count - 1; returns the monotonic ns of the first
        and the last send."""
        first = time.monotonic_ns()
        for i in range(count):
            if rate:
                delay = first / 1e9 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.window.acquire()
            await self.ws.send(post_text(self.target, body(start + i, pad, text)))
        return first, time.monotonic_ns()


# --- presence churn ----------------------------------------------------------------------


class Churn:
    """Other users coming and going in the room while it is busy: every 1/rate seconds one
    socket opens (a user not in the room) and the oldest closes, so `rate` arrivals and
    `rate` departures per second, with about rate x stay sockets open at any time. Users
    are taken in turn from `specs` (one user each), so a user comes back only after
    len(specs) / rate seconds: long after their departure's grace period (the server tells
    a departure CHAT_PRESENCE_GRACE_SECONDS after the last socket closed). Each socket reads
    and drops what it receives, as a page would. Opens and closes run beside the ticker,
    so a slow handshake does not lower the rate; what was achieved is in stats()."""

    def __init__(self, specs: list[ConnSpec], rate: float, stay: float) -> None:
        self.specs, self.rate, self.stay = specs, rate, stay
        self.size = max(1, round(rate * stay))
        if len(specs) < self.size + 2:
            raise ValueError(f"churn needs more than {self.size + 1} users, got {len(specs)}")
        self.open: deque[tuple[ClientConnection, asyncio.Task[None]]] = deque()
        self.next = 0
        self.arrivals = self.departures = self.failed = 0
        self.open_ms: list[float] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.ticker: asyncio.Task[None] | None = None
        self.started = self.stopped = 0.0
        self.live = False  # counting arrivals and departures (between start and stop)

    async def _drain(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass

    async def _arrive(self) -> None:
        spec = self.specs[self.next % len(self.specs)]
        self.next += 1
        started = time.perf_counter()
        try:
            ws = await open_ws(spec)
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            self.failed += 1
            return
        self.open_ms.append((time.perf_counter() - started) * 1000)
        self.open.append((ws, asyncio.create_task(self._drain(ws))))
        if self.live:
            self.arrivals += 1

    async def _depart(self) -> None:
        if not self.open:
            return
        ws, reader = self.open.popleft()
        if self.live:
            self.departures += 1
        await ws.close()
        reader.cancel()

    def _beside(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def fill(self) -> None:
        """Open the first rate x stay sockets, before the measurement."""
        for _ in range(self.size):
            await self._arrive()

    async def _tick(self) -> None:
        beat = 1 / self.rate
        for i in itertools.count(1):
            await asyncio.sleep(max(0.0, self.started + i * beat - time.monotonic()))
            self._beside(self._depart())
            self._beside(self._arrive())

    def start(self) -> None:
        self.started, self.live = time.monotonic(), True
        self.ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop coming and going, and close the sockets still open (safe to call again)."""
        if self.live:
            self.stopped, self.live = time.monotonic(), False
        if self.ticker is not None:
            self.ticker.cancel()
            await asyncio.gather(self.ticker, return_exceptions=True)
            self.ticker = None
        await asyncio.gather(*self.tasks, return_exceptions=True)
        while self.open:
            await self._depart()

    def stats(self) -> dict[str, Any]:
        seconds = max(1e-9, (self.stopped or time.monotonic()) - self.started)
        opened = sorted(self.open_ms)
        return {
            "churn_seconds": round(seconds, 2),
            "churn_arrivals_per_s": round(self.arrivals / seconds, 2),
            "churn_departures_per_s": round(self.departures / seconds, 2),
            "churn_failed": self.failed,
            "churn_open_p50_ms": round(opened[len(opened) // 2], 1) if opened else None,
        }
