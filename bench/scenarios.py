"""The scenarios. Each returns result rows (dicts) for one target on one server set-up;
bench.run drives them over the targets (site, tutorial baseline, bare ceiling) and ASGI
servers (daphne, uvicorn)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .load import Churn, ConnSpec, Sender, Workers, open_ws, split
from .servers import Server


def progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


@dataclass
class Users:
    """Sessions of the receivers (made in the database) and the sender's (logged in over
    HTTP)."""

    cookies: list[str]
    sender_cookie: str


def home_specs(servers: list[Server], users: Users, count: int) -> list[ConnSpec]:
    """The home sockets (ws/chat/: the user's stream) of the first `count` receivers' users,
    as each would have the room list open in another tab."""
    return [
        ConnSpec(
            url=f"ws://127.0.0.1:{servers[i % len(servers)].port}/ws/chat/",
            headers=[("Cookie", users.cookies[i % len(users.cookies)])],
            origin=servers[i % len(servers)].origin,
            home=True,
        )
        for i in range(count)
    ]


def receiver_specs(
    servers: list[Server], room: str, users: Users, count: int, stalled: int = 0
) -> list[ConnSpec]:
    """`count` receivers spread round-robin over `servers`, the first `stalled` of them
    stalling."""
    specs = []
    for i in range(count):
        server = servers[i % len(servers)]
        headers = [("Cookie", users.cookies[i % len(users.cookies)])]
        stall = i < stalled
        specs.append(
            ConnSpec(
                url=server.ws_url(room),
                headers=headers if server.target == "site" else [],
                origin=server.origin,
                stall=stall,
                resume_url=server.ws_url(room) + "?since={since}"
                if stall and server.target == "site"
                else None,
            )
        )
    return specs


@dataclass
class Life:
    """Room life while a burst runs (the roomlife scenario's `life` variant): `churn`, one
    socket each of other users of the room, come and go at `churn_rate` arrivals and as many
    departures per second (each staying `churn_stay` s); and the first `typists` receivers
    send {"type":"typing"} every `typing_every` s."""

    churn: list[ConnSpec]
    churn_rate: float
    churn_stay: float
    typists: int
    typing_every: float


async def settle(servers: list[Server], *, busy: float = 0.1, most: float = 60.0) -> float:
    """Wait until the servers use under `busy` of a core over half a second (at most `most`
    seconds): each join tells every socket already in the room (1,000 joins are ~500,000
    presence frames), and what the last ones sent must not run into the measurement.
    Returns the seconds waited."""
    started = time.monotonic()
    await asyncio.sleep(0.3)
    while time.monotonic() - started < most:
        before = sum(server.cpu_seconds() for server in servers)
        await asyncio.sleep(0.5)
        if sum(server.cpu_seconds() for server in servers) - before < busy * 0.5:
            break
    return round(time.monotonic() - started, 1)


class Profile:
    """py-spy recording one server process while a burst runs (`--profile DIR`): raw stacks
    with counts, as docs/benchmarks.md's "Profiling" reads them. py-spy stops the process
    for each sample, so a profiled run's figures are a little lower."""

    def __init__(self, server: Server, path: Path | None) -> None:
        self.server, self.path = server, path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.path is None or self.server.proc is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        command = [spy, "record", "-p", str(self.server.pid), "-r", "100", "-f", "raw"]
        self.proc = subprocess.Popen(
            [*command, "-o", str(self.path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


def sender_spec(server: Server, room: str, users: Users) -> ConnSpec:
    return ConnSpec(
        url=server.ws_url(room),
        headers=[("Cookie", users.sender_cookie)] if server.target == "site" else [],
        origin=server.origin,
    )


async def fan_out(
    *,
    servers: list[Server],
    room: str,
    users: Users,
    receivers: int,
    messages: int,
    workers: int,
    rate: float | None = None,
    stalled: int = 0,
    stall_seconds: float = 0.0,
    pad: int = 0,
    idle_timeout: float = 8.0,
    hold: bool = False,
    life: Life | None = None,
    profile: Path | None = None,
    text: str = "",
    homes: bool = False,
) -> dict[str, Any]:
    """One sender posts `messages` to `room` on servers[0]; `receivers` (over all servers)
    receive. Returns throughput, latency and loss. With `homes`, each receiver's user also
    has a home socket open (the user's stream: its `unread` frames are counted).

    With `hold` (the roomlife scenario), the burst starts once every receiver has its
    welcome and the servers are quiet, receivers stay in the room until every one is done
    (a receiver leaving is a presence change), and the presence and typing frames they see
    from the burst's start are counted; `life` adds churn and typists during the burst.
    `text` follows the payload in every body (the formatted scenario's Markdown or prose)."""
    specs = receiver_specs(servers, room, users, receivers, stalled)
    for spec in specs[stalled : stalled + (life.typists if life else 0)]:
        spec.typing_every = life.typing_every  # type: ignore[union-attr]
    if homes:
        specs += home_specs(servers, users, receivers)
    # Generous: with the site's settings a post can take 40 ms on a busy 2-core machine.
    deadline = 60.0 + (messages / rate * 1.5 if rate else messages / 10) + stall_seconds
    pool = Workers(
        split(
            specs,
            workers,
            {
                "expect": messages,
                "idle_timeout": idle_timeout,
                "deadline": deadline,
                "stall_seconds": stall_seconds,
                "signals": hold,
            },
        )
    )
    churn = None
    if life is not None and life.churn_rate > 0:
        churn = Churn(life.churn, life.churn_rate, life.churn_stay)
    spy = Profile(servers[0], profile)
    settled = joined = 0.0
    try:
        started = time.monotonic()
        # With hold, ready means welcomed: 1,000 joins, one at a time, can take a minute.
        ready = await pool.gather(wait=600 if hold else 180)
        connected = sum(r["ready"] for r in ready)
        if connected < receivers:
            errors = [e for r in ready for e in r["errors"]]
            raise RuntimeError(f"only {connected}/{receivers} receivers connected: {errors}")
        joined = time.monotonic() - started
        if churn is not None:
            await churn.fill()
        if hold:
            settled = await settle(servers)
        else:
            await asyncio.sleep(0.3)  # let the last joins settle on the server
        cpu_before = sum(server.cpu_seconds() for server in servers)
        clients_before = pool.cpu_seconds() + time.process_time()  # receivers and the sender
        async with Sender(sender_spec(servers[0], room, users), servers[0].target) as sender:
            spy.start()
            if hold:
                pool.tell("go")
            if churn is not None:
                churn.start()
            first, last = await sender.send(messages, rate=rate, pad=pad, text=text)
            results = await pool.gather(wait=deadline + 60)
            cpu = sum(server.cpu_seconds() for server in servers) - cpu_before
            clients_cpu = pool.cpu_seconds() + time.process_time() - clients_before
            spy.stop()
            if churn is not None:
                await churn.stop()
        if hold:
            pool.tell("close")
            await pool.gather(wait=120)
    finally:
        spy.stop()
        if churn is not None:
            await churn.stop()
        pool.join()
    conns = [c for r in results for c in r["conns"] if not c["home"]]
    home_conns = [c for r in results for c in r["conns"] if c["home"]]
    healthy = [c for c in conns if not c["stall"]]
    stalled_c = [c for c in conns if c["stall"]]
    latencies = [x / 1e6 for c in healthy for x in c["latencies"]]
    delivered = sum(len(c["latencies"]) for c in healthy)
    end_ns = max((c["last_ns"] for c in healthy), default=last)
    seconds = max(1e-9, (end_ns - first) / 1e9)
    row: dict[str, Any] = {
        "receivers": receivers,
        "messages": messages,
        "deliveries": delivered,
        "seconds": round(seconds, 3),
        "deliveries_per_s": round(delivered / seconds, 1),
        "send_seconds": round((last - first) / 1e9, 3),
        "p50_ms": _r(pct(latencies, 50)),
        "p99_ms": _r(pct(latencies, 99)),
        "max_ms": _r(max(latencies) if latencies else None),
        "lost": sum(messages - c["received"] for c in healthy),
        "dup": sum(c["dup"] for c in conns),
        # The servers' CPU time per delivery, from the sender's login to the last delivery:
        # the work a delivery costs, whatever share of the cores the server got.
        "server_cpu_us_per_delivery": _r(cpu / max(1, delivered) * 1e6),
        "client_cpu_us_per_delivery": _r(clients_cpu / max(1, delivered) * 1e6),
        "errors": [c["error"] for c in conns if c["error"]][:3],
    }
    if homes:
        row["homes"] = len(home_conns)
        row["unread_per_home"] = _r(_mean([c["unread"] for c in home_conns]))
    if hold:
        row.update(
            {
                "join_seconds": round(joined, 1),
                "settle_seconds": settled,
                "presence_per_socket": _r(_mean([c["presence"] for c in healthy])),
                "typing_per_socket": _r(_mean([c["typing"] for c in healthy])),
                "typing_sent": sum(c["typing_sent"] for c in conns),
                "typists": life.typists if life else 0,
            }
        )
        if churn is not None:
            row.update(churn.stats())
    if stalled:
        row.update(
            {
                "stalled": stalled,
                "stalled_disconnected": sum(1 for c in stalled_c if c["closed_code"]),
                "stalled_close_codes": sorted({c["closed_code"] for c in stalled_c}, key=str),
                "stalled_resumed": sum(1 for c in stalled_c if c["resumed"]),
                "stalled_lost": sum(messages - c["received"] for c in stalled_c),
            }
        )
    return row


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


async def idle_memory(
    servers: list[Server],
    room: str,
    users: Users,
    connections: int,
    workers: int,
    deflate: bool = True,
) -> dict[str, Any]:
    """Open `connections` idle sockets (offering permessage-deflate, as browsers do, unless
    `deflate` is off); the server's RSS growth per socket."""
    server = servers[0]
    # One socket first, so what every room and process pays once is not counted.
    warm = await open_ws(sender_spec(server, room, users))
    await asyncio.sleep(1.0)
    before = server.rss_kib()
    specs = receiver_specs([server], room, users, connections)
    for spec in specs:
        spec.deflate = deflate  # browsers offer it; a server that takes it pays per socket
    pool = Workers(split(specs, workers, {"expect": 0, "mode": "idle"}))
    started = time.monotonic()
    try:
        ready = await pool.gather(wait=600)
        opened = sum(r["ready"] for r in ready)
        seconds = time.monotonic() - started
        await asyncio.sleep(2.0)
        after = server.rss_kib()
        pool.tell("close")
        await pool.gather(wait=120)
    finally:
        pool.join()
        await warm.close()
    return {
        "connections": opened,
        "wanted": connections,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round((after - before) / max(1, opened), 2),
        "connect_seconds": round(seconds, 2),
        "deflate_offered": deflate,
        "errors": [e for r in ready for e in r["errors"]][:3],
    }


async def history_times(
    server: Server, rooms: dict[int, str], users: Users, samples: int
) -> list[dict[str, Any]]:
    """p50 time of a 50-message `history` page at the end and in the middle of each room
    ({size: slug}). The rooms are asked in turn, so a change in the machine's load (it is
    shared) hits every room alike."""
    sockets = {}
    try:
        for size, slug in rooms.items():
            ws = sockets[size] = await open_ws(sender_spec(server, slug, users))
            welcome = json.loads(await ws.recv())
            if welcome["type"] != "welcome":
                raise RuntimeError(f"no welcome: {str(welcome)[:300]}")
        times: dict[tuple[int, str], list[float]] = {}
        for _ in range(samples):
            for size, ws in sockets.items():
                for name, before in (("end", size + 1), ("middle", max(51, size // 2))):
                    started = time.perf_counter()
                    await ws.send(json.dumps({"type": "history", "before": before, "limit": 50}))
                    frame = json.loads(await ws.recv())
                    elapsed = (time.perf_counter() - started) * 1000
                    if frame["type"] != "history" or len(frame["messages"]) != 50:
                        raise RuntimeError(f"bad history answer: {str(frame)[:300]}")
                    times.setdefault((size, name), []).append(elapsed)
        return [
            {
                "size": size,
                "samples": samples,
                **{
                    f"{name}_p50_ms": round(statistics.median(times[(size, name)]), 3)
                    for name in ("end", "middle")
                },
            }
            for size in rooms
        ]
    finally:
        for ws in sockets.values():
            await ws.close()


async def big_room(
    *,
    server: Server,
    room: str,
    users: Users,
    receivers: int,
    burst: int,
    workers: int,
    concurrency: int,
) -> dict[str, Any]:
    """The performance issue's room of 10,000: `receivers` sockets of distinct users join one
    room at once (`workers` load processes, `concurrency` handshakes in flight in each: the
    reconnect storm after a deploy), then one message alone (its latency to every socket),
    then a burst of `burst` as fast as the server takes them (lost, duplicated). The room has
    50 messages before the storm, so each welcome carries a page. The server's
    and the load clients' CPU are read around each phase, and the server's RSS growth per
    socket once all have joined."""
    specs = receiver_specs([server], room, users, receivers)
    job = {
        "expect": 1 + burst,
        "idle_timeout": 60.0,  # the quiet between the lone message and the burst
        "deadline": 900.0,
        "signals": True,
        "connect_concurrency": concurrency,
    }
    # A room with history, as rooms are: every welcome carries a page of 50 messages.
    async with Sender(sender_spec(server, room, users), server.target) as sender:
        await sender.post_history(50)
    await settle([server])
    rss_before, cpu_before = server.rss_kib(), server.cpu_seconds()
    pool = Workers(split(specs, workers, job))
    try:
        started = time.monotonic()
        ready = await pool.gather(wait=900)
        join_seconds = time.monotonic() - started
        join_cpu, join_clients_cpu = server.cpu_seconds() - cpu_before, pool.cpu_seconds()
        connected = sum(r["ready"] for r in ready)
        settled = await settle([server], most=120)
        rss_after = server.rss_kib()
        async with Sender(sender_spec(server, room, users), server.target) as sender:
            pool.tell("go")
            alone0, alone_clients0 = server.cpu_seconds(), pool.cpu_seconds()
            await sender.send(1)
            await settle([server], most=60)  # the lone message has reached everyone
            alone_cpu = server.cpu_seconds() - alone0
            alone_clients_cpu = pool.cpu_seconds() - alone_clients0
            cpu0, clients0 = server.cpu_seconds(), pool.cpu_seconds() + time.process_time()
            first, last = await sender.send(burst, start=1)
            results = await pool.gather(wait=960)
            burst_cpu = server.cpu_seconds() - cpu0
            burst_clients_cpu = pool.cpu_seconds() + time.process_time() - clients0
        pool.tell("close")
        await pool.gather(wait=300)
    finally:
        pool.join()
    conns = [c for r in results for c in r["conns"]]
    alone = [c["first_latency"] / 1e6 for c in conns if c["first_latency"] is not None]
    delivered = sum(len(c["latencies"]) for c in conns) - len(alone)
    end_ns = max((c["last_ns"] for c in conns), default=last)
    return {
        "receivers": receivers,
        "joined": connected,
        "refused": receivers - connected,
        "dropped": sum(1 for c in conns if c["closed_code"]),
        "join_seconds": round(join_seconds, 1),
        "join_server_cpu_ms_per_socket": _r(join_cpu / max(1, connected) * 1e3),
        "join_clients_cpu_ms_per_socket": _r(join_clients_cpu / max(1, connected) * 1e3),
        "settle_seconds": settled,
        "kib_per_socket": round((rss_after - rss_before) / max(1, connected), 2),
        "alone_received": len(alone),
        "alone_p50_ms": _r(pct(alone, 50)),
        "alone_p99_ms": _r(pct(alone, 99)),
        "alone_max_ms": _r(max(alone) if alone else None),
        # CPU of the lone message's fan-out (from its send until the server is quiet).
        "alone_server_cpu_ms": _r(alone_cpu * 1e3),
        "alone_clients_cpu_ms": _r(alone_clients_cpu * 1e3),
        "messages": burst,
        "deliveries": delivered,
        "deliveries_per_s": round(delivered / max(1e-9, (end_ns - first) / 1e9), 1),
        "lost": sum(1 + burst - c["received"] for c in conns),
        "dup": sum(c["dup"] for c in conns),
        "server_cpu_us_per_delivery": _r(burst_cpu / max(1, delivered) * 1e6),
        "client_cpu_us_per_delivery": _r(burst_clients_cpu / max(1, delivered) * 1e6),
        "errors": (
            [e for r in ready for e in r["errors"]] + [c["error"] for c in conns if c["error"]]
        )[:3],
    }
