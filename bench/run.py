"""Drive a whole bench run: servers up, scenarios over every target and ASGI server, results
written by bench.report."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.accounts import login
from tests.support.processes import ROOT, manage, run_python
from tests.support.redis_server import RedisServer

from . import formatting, scenarios, search
from .scenarios import Users, progress
from .servers import Server, server_env

DATA_DIR = ROOT / "bench" / ".data"
SENDER, SENDER_PASSWORD = "bench-sender", "bench-sender-password-1"
TARGETS = ("site", "tutorial", "bare")
# Scenarios measured in the bench's own process, without servers, users or a database.
IN_PROCESS = frozenset({"render"})
# Scenarios that run their own database processes, without servers or the run's users.
NO_SERVERS = IN_PROCESS | {"search"}
SETUP_TIMEOUT = 1800  # migrating and seeding a large history take minutes


@dataclass
class Config:
    name: str
    receivers: int
    messages: int
    paced_rate: float
    paced_seconds: float
    idle_connections: int
    history_sizes: tuple[int, int]
    history_samples: int
    slow_stalled: int
    slow_messages: int
    # Body padding, so a stalled socket's backlog grows quickly; at most ~1,800, so that 500
    # messages (the resume replay) stay under daphne's 1 MiB frame limit.
    slow_pad: int
    workers: int
    slow_stall_seconds: float = 60.0  # at most; they read again once the room is done
    # Stalled sockets must fall several MB behind: on loopback the kernel alone takes
    # ~2.8 MB for a socket that stops reading, before the server's buffer (1 MiB by
    # default) sees any of it; 3,000 messages of ~1.8 KB are ~5 MB.
    slow_receivers: int = 20
    servers: tuple[str, ...] = ("daphne", "uvicorn")
    scenarios: tuple[str, ...] = (
        "burst",
        "paced",
        "slow",
        "history",
        "idle",
        "cross",
        "roomlife",
        "render",
        "formatted",
        "search",
        "bigroom",
        "v2",
    )
    cross_receivers: int = 0  # 0: same as receivers
    cross_processes: tuple[int, ...] = (1, 2)  # site processes sharing Redis, in turn
    targets: tuple[str, ...] = ("site", "tutorial", "bare")
    # roomlife (site only): a burst to this many receivers, `plain` and with room life
    # (`life`), in alternating pairs (plain, life, life, plain, ...) on the same servers.
    roomlife_receivers: int = 1000
    roomlife_messages: int = 500
    roomlife_pairs: int = 3
    roomlife_rate: float | None = None  # the sender's pace; None: as fast as it is taken
    churn_rate: float = 2.0  # arrivals per second, and as many departures
    churn_stay: float = 2.0  # seconds each churning socket stays
    churn_users: int = 20  # taken in turn, so a user returns after churn_users / churn_rate s
    typists: int = 3  # receivers that send {"type":"typing"} ...
    typing_every: float = 1.0  # ... this often (the server broadcasts at most 1/s each)
    # render (in this process): chat.formatting.render timed this many times per body kind.
    render_repeats: int = 50
    # formatted (site only): the burst to `receivers` sockets with plain prose and with
    # Markdown-heavy bodies of the same length (bench/formatting.py), in alternating pairs.
    formatted_messages: int = 2000
    formatted_pairs: int = 3
    # search (bench/search.py), on each of the run's search databases: chat.search.search
    # over a room of search_size messages (and export_room of it and of a room a tenth its
    # size), search_samples per query; a post's cost in that room with and without the
    # index (copies of the database): search_posts posts per run, in search_post_pairs pairs.
    search_size: int = 1_000_000
    search_samples: int = 9
    search_posts: int = 1000
    search_post_pairs: int = 2
    search_timeout: float = 20.0  # seconds: a slower query is cut short and reported so
    search_export_small: bool = True  # also export the room a tenth the size (memory)
    # bigroom (site only, a fresh server): bigroom_receivers sockets join one room at once
    # from bigroom_workers load processes (bigroom_concurrency handshakes in flight each),
    # then one message alone, then a burst of bigroom_burst.
    bigroom_receivers: int = 10_000
    bigroom_burst: int = 100
    bigroom_workers: int = 4
    bigroom_concurrency: int = 50


PRESETS = {
    # CI's smoke run (tests/test_bench_smoke.py): every part of the tool, in seconds.
    "smoke": Config(
        name="smoke",
        receivers=3,
        messages=20,
        paced_rate=30,
        paced_seconds=1,
        idle_connections=10,
        history_sizes=(100, 1000),
        history_samples=3,
        slow_stalled=1,
        slow_messages=40,
        slow_pad=1000,
        workers=1,
        slow_stall_seconds=1.0,
        slow_receivers=2,
        servers=("daphne",),
        scenarios=(
            "burst",
            "paced",
            "slow",
            "history",
            "idle",
            "roomlife",
            "render",
            "formatted",
            "search",
            "v2",
            "bigroom",
        ),
        # Paced over 2 s, so that the churn and the typist have time to happen.
        roomlife_receivers=4,
        roomlife_messages=20,
        roomlife_pairs=1,
        roomlife_rate=10,
        churn_rate=4,
        churn_stay=0.5,
        churn_users=12,
        typists=1,
        render_repeats=2,
        formatted_messages=20,
        formatted_pairs=1,
        search_size=2000,
        search_samples=1,
        search_posts=20,
        search_post_pairs=1,
        search_export_small=False,
        bigroom_receivers=20,
        bigroom_burst=10,
        bigroom_workers=2,
        bigroom_concurrency=5,
    ),
    # A few minutes: the loads, smaller where they only take longer.
    "quick": Config(
        name="quick",
        receivers=100,
        messages=200,
        paced_rate=30,
        paced_seconds=3,
        idle_connections=500,
        history_sizes=(1000, 100_000),
        history_samples=20,
        slow_stalled=3,
        slow_messages=2600,
        slow_pad=1700,
        workers=2,
        roomlife_receivers=500,
        roomlife_messages=200,
        roomlife_pairs=1,
        render_repeats=10,
        formatted_messages=500,
        formatted_pairs=1,
        search_size=100_000,
        search_samples=5,
        search_posts=500,
        bigroom_receivers=2000,
    ),
    # The figures: 100 receivers x 500 messages, 30 msg/s for 10 s, 2,000 idle
    # sockets, history at 1,000 and 1,000,000 messages; room life: 1,000 sockets, 2 arrivals
    # and 2 departures per second, 3 typists, 3 pairs.
    "full": Config(
        name="full",
        receivers=100,
        messages=500,
        paced_rate=30,
        paced_seconds=10,
        idle_connections=2000,
        history_sizes=(1000, 1_000_000),
        history_samples=50,
        slow_stalled=5,
        slow_messages=3000,
        slow_pad=1700,
        workers=2,
        render_repeats=100,
        cross_processes=(1, 2, 4),
        servers=("daphne", "uvicorn", "uvicorn-nodeflate", "granian", "hypercorn"),
    ),
}


@dataclass
class Run:
    cfg: Config
    out_dir: Path
    db_url: str
    redis_url: str | None
    site_settings: str
    profile_dir: Path | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: f"{int(time.time()):x}")

    def room(self, scenario: str, asgi: str, variant: str = "") -> str:
        # Word characters only: the tutorial's route takes \w+ (no "uvicorn-nodeflate").
        name = "_".join(x for x in ("b", self.run_id, scenario, asgi, variant) if x)
        return name.replace("-", "")[:50]

    def add(self, scenario: str, asgi: str, target: str, variant: str, row: dict[str, Any]) -> None:
        row = {"scenario": scenario, "asgi": asgi, "target": target, "variant": variant, **row}
        self.rows.append(row)
        brief = {k: v for k, v in row.items() if k not in {"errors"} and v not in (None, [], "")}
        progress(json.dumps(brief))


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def with_servers(run: Run, asgi: str, env: dict[str, str], fn: Any) -> None:
    """Start site, tutorial and bare servers fresh, call fn(servers), stop them."""
    log_dir = run.out_dir / "logs"
    servers = {
        "site": Server("site", asgi, env, log_dir),
        "tutorial": Server("tutorial", asgi, env, log_dir),
        "bare": Server("bare", "websockets", env, log_dir),
    }
    try:
        for server in servers.values():
            server.start()
        await fn(servers)
    finally:
        for server in servers.values():
            server.stop()


def users_needed(cfg: Config) -> int:
    """Receivers' users (each with a session) the run's scenarios need at most at once."""
    need = max(cfg.receivers, cfg.idle_connections, cfg.cross_receivers)
    if "roomlife" in cfg.scenarios or "v2" in cfg.scenarios:
        need = max(need, cfg.roomlife_receivers + cfg.churn_users)
    if "bigroom" in cfg.scenarios:
        need = max(need, cfg.bigroom_receivers)
    return need


async def main(
    cfg: Config,
    out_dir: Path,
    db_url: str | None,
    redis_url: str | None,
    site_settings: str,
    profile_dir: Path | None = None,
    search_urls: list[str] | None = None,
) -> dict:
    need = users_needed(cfg)
    raise_fd_limit(need * 2 + 1000)
    db_url = db_url or f"sqlite:///{DATA_DIR / 'bench.sqlite3'}"
    run = Run(cfg, out_dir, db_url, redis_url, site_settings, profile_dir)
    env = server_env(db_url, site_settings=site_settings)
    started = time.time()
    progress(f"run {run.run_id} ({cfg.name}); database {db_url}")
    if "render" in cfg.scenarios:
        # First, while no server runs: the machine is as quiet as it will get.
        progress(f"render: {len(formatting.KINDS)} bodies x {cfg.render_repeats} repeats")
        for row in formatting.measure(cfg.render_repeats):
            run.add("render", "-", "site", row["kind"], row)
    if "search" in cfg.scenarios:

        def add(backend: str, variant: str, row: dict[str, Any]) -> None:
            run.add("search", "-", backend, variant, row)

        search.measure(cfg, search_urls or [db_url], add, progress)
    if set(cfg.scenarios) <= NO_SERVERS:
        return {
            "meta": machine_facts(started),
            "config": {**asdict(cfg), "site_settings": site_settings},
            "results": run.rows,
        }
    manage(env, "migrate", "--noinput", timeout=SETUP_TIMEOUT)
    made = json.loads(
        run_python(
            env,
            "-m",
            "bench.seed",
            "users",
            "--count",
            str(need),
            "--prefix",
            "bench-u",
            "--sender",
            SENDER,
            "--password",
            SENDER_PASSWORD,
            timeout=SETUP_TIMEOUT,
        )
    )
    users = Users(cookies=made["cookies"], sender_cookie="")
    progress(f"{need} users with sessions ready")

    for asgi in cfg.servers:

        async def measure(servers: dict[str, Server], asgi: str = asgi) -> None:
            if not users.sender_cookie:
                users.sender_cookie = login(
                    servers["site"].origin, SENDER, SENDER_PASSWORD, timeout=30
                )
            await fan_out_scenarios(run, asgi, servers, users)
            await site_scenarios(run, asgi, servers["site"], users, env)

        await with_servers(run, asgi, env, measure)
        if "bigroom" in cfg.scenarios and "site" in cfg.targets:
            await big_room(run, asgi, env, users)
        if "idle" in cfg.scenarios:
            for target in cfg.targets:
                if target == "bare" and asgi != cfg.servers[0]:
                    continue  # bare does not depend on the ASGI server: measure it once

                async def idle(
                    servers: dict[str, Server], target: str = target, asgi: str = asgi
                ) -> None:
                    row = await scenarios.idle_memory(
                        [servers[target]],
                        run.room("idle", asgi),
                        users,
                        cfg.idle_connections,
                        cfg.workers,
                    )
                    run.add("idle", asgi, target, "", row)

                await with_servers(run, asgi, env, idle)
    if "cross" in cfg.scenarios:
        await cross_process(run, env, users)
    return {
        "meta": machine_facts(started),
        "config": {**asdict(cfg), "site_settings": site_settings},
        "results": run.rows,
    }


async def site_scenarios(
    run: Run, asgi: str, site: Server, users: Users, env: dict[str, str]
) -> None:
    """The scenarios that measure the site alone (the others have no history, presence,
    formatting or user's stream)."""
    cfg = run.cfg
    if "history" in cfg.scenarios:
        await history(run, asgi, site, users, env)
    alone = {"roomlife", "formatted", "v2"} & set(cfg.scenarios)
    if alone and "site" not in cfg.targets:
        progress(f"{', '.join(sorted(alone))} measure the site only: add it to --targets")
        return
    if "roomlife" in cfg.scenarios:
        await room_life(run, asgi, site, users)
    if "formatted" in cfg.scenarios:
        await formatted_burst(run, asgi, site, users)
    if "v2" in cfg.scenarios:
        await version_two(run, asgi, site, users)


async def fan_out_scenarios(run: Run, asgi: str, servers: dict[str, Server], users: Users) -> None:
    cfg = run.cfg
    for target in cfg.targets:
        server = servers[target]
        if "burst" in cfg.scenarios:
            row = await scenarios.fan_out(
                servers=[server],
                room=run.room("burst", asgi, target),
                users=users,
                receivers=cfg.receivers,
                messages=cfg.messages,
                workers=cfg.workers,
            )
            run.add("burst", asgi, target, "", row)
        if "paced" in cfg.scenarios:
            row = await scenarios.fan_out(
                servers=[server],
                room=run.room("paced", asgi, target),
                users=users,
                receivers=cfg.receivers,
                messages=int(cfg.paced_rate * cfg.paced_seconds),
                workers=cfg.workers,
                rate=cfg.paced_rate,
            )
            run.add("paced", asgi, target, "", row)
        if "slow" in cfg.scenarios:
            for variant, stalled in (("control", 0), ("stalled", cfg.slow_stalled)):
                row = await scenarios.fan_out(
                    servers=[server],
                    room=run.room("slow", asgi, target + variant[:1]),
                    users=users,
                    receivers=cfg.slow_receivers + stalled,
                    messages=cfg.slow_messages,
                    workers=cfg.workers,
                    stalled=stalled,
                    pad=cfg.slow_pad,
                    stall_seconds=cfg.slow_stall_seconds if stalled else 0.0,
                )
                run.add("slow", asgi, target, variant, row)


def pair_order(pairs: int, variant: str) -> list[tuple[str, int]]:
    """`plain` and `variant` in pairs whose order flips (plain, v, v, plain, plain, v...),
    so a drift in the shared machine's load hits both alike: (variant, pair) in order."""
    order = []
    for pair in range(pairs):
        order += [("plain", pair), (variant, pair)][:: 1 if pair % 2 == 0 else -1]
    return order


def room_life_of(cfg: Config, site: Server, room: str, churn_users: Users) -> scenarios.Life:
    """The room life of a burst: churn_users coming and going, and typists."""
    return scenarios.Life(
        churn=scenarios.receiver_specs([site], room, churn_users, cfg.churn_users),
        churn_rate=cfg.churn_rate,
        churn_stay=cfg.churn_stay,
        typists=cfg.typists,
        typing_every=cfg.typing_every,
    )


async def room_life(run: Run, asgi: str, site: Server, users: Users) -> None:
    """The burst to roomlife_receivers sockets of distinct users, `plain` and `life`
    (presence churn and typists during the burst), alternated in pairs whose order flips
    (plain, life, life, plain, ...), so a drift in the shared machine's load hits both. Each
    run has a room of its own; between runs the servers go quiet (the closed sockets'
    departures are told after CHAT_PRESENCE_GRACE_SECONDS)."""
    cfg = run.cfg
    first = cfg.roomlife_receivers
    churn_users = Users(users.cookies[first : first + cfg.churn_users], users.sender_cookie)
    order = pair_order(cfg.roomlife_pairs, "life")
    progress(
        f"roomlife: {first} receivers x {cfg.roomlife_messages} messages, "
        f"{' '.join(v for v, _ in order)}"
    )
    for variant, pair in order:
        room = run.room("life", asgi, f"{variant[0]}{pair}")
        life = room_life_of(cfg, site, room, churn_users) if variant == "life" else None
        row = await scenarios.fan_out(
            servers=[site],
            room=room,
            users=users,
            receivers=first,
            messages=cfg.roomlife_messages,
            workers=cfg.workers,
            rate=cfg.roomlife_rate,
            # Not 8 s: a 1,000-socket room on a busy machine may take longer to start.
            idle_timeout=30.0,
            hold=True,
            life=life,
            profile=run.profile_dir / f"roomlife-{asgi}-{variant}{pair}.txt"
            if run.profile_dir
            else None,
        )
        run.add("roomlife", asgi, "site", variant, {"pair": pair, **row})
        await asyncio.sleep(3.0)  # the departures' grace (2 s by default) runs out
        await scenarios.settle([site])


async def big_room(run: Run, asgi: str, env: dict[str, str], users: Users) -> None:
    """A room of bigroom_receivers on a fresh site server (its RSS growth is the sockets')."""
    cfg = run.cfg
    progress(
        f"bigroom: {cfg.bigroom_receivers:,} sockets join one room "
        f"({cfg.bigroom_workers} load processes x {cfg.bigroom_concurrency} handshakes in "
        f"flight), one message, then a burst of {cfg.bigroom_burst}"
    )
    site = Server("site", asgi, env, run.out_dir / "logs").start()
    try:
        if not users.sender_cookie:
            users.sender_cookie = login(site.origin, SENDER, SENDER_PASSWORD, timeout=30)
        row = await scenarios.big_room(
            server=site,
            room=run.room("big", asgi),
            users=users,
            receivers=cfg.bigroom_receivers,
            burst=cfg.bigroom_burst,
            workers=cfg.bigroom_workers,
            concurrency=cfg.bigroom_concurrency,
        )
    finally:
        site.stop()
    run.add("bigroom", asgi, "site", "", row)


async def formatted_burst(run: Run, asgi: str, site: Server, users: Users) -> None:
    """The burst with prose bodies (`plain`) and with Markdown-heavy bodies of the same
    length (`formatted`: bold, emphasis, code, a link, a bare URL, strikethrough, a mention),
    alternated in pairs whose order flips (plain, formatted, formatted, plain, ...) on the
    same server, each in a room of its own. Every body is rendered on the server once per
    post; the difference is the markup's rendering, the mention's lookup and the longer
    `html` each of the receivers gets."""
    cfg = run.cfg
    texts = formatting.burst_texts(SENDER)
    sizes = formatting.rendered_sizes(texts, SENDER)
    order = pair_order(cfg.formatted_pairs, "formatted")
    progress(
        f"formatted: {cfg.receivers} receivers x {cfg.formatted_messages} messages, "
        f"{' '.join(v for v, _ in order)}"
    )
    for variant, pair in order:
        row = await scenarios.fan_out(
            servers=[site],
            room=run.room("fmt", asgi, f"{variant[0]}{pair}"),
            users=users,
            receivers=cfg.receivers,
            messages=cfg.formatted_messages,
            workers=cfg.workers,
            text=texts[variant],
            profile=run.profile_dir / f"formatted-{asgi}-{variant}{pair}.txt"
            if run.profile_dir
            else None,
        )
        run.add("formatted", asgi, "site", variant, {"pair": pair, **sizes[variant], **row})


async def version_two(run: Run, asgi: str, site: Server, users: Users) -> None:
    """The burst as version 2 lives it (`v2`: every receiver also has its home socket open,
    so each message changes its unread counts; presence churn and typists as in room life;
    Markdown bodies with a mention) against the `plain` burst (prose of the same length, no
    home sockets, no churn, no typists), alternated in pairs whose order flips on the same
    server, each in a room of its own."""
    cfg = run.cfg
    texts = formatting.burst_texts(SENDER)
    first = cfg.receivers
    churn_users = Users(users.cookies[first : first + cfg.churn_users], users.sender_cookie)
    order = pair_order(cfg.formatted_pairs, "v2")
    progress(
        f"v2: {cfg.receivers} receivers x {cfg.formatted_messages} messages, "
        f"{' '.join(v for v, _ in order)}"
    )
    for variant, pair in order:
        room = run.room("v2", asgi, f"{variant[0]}{pair}")
        full = variant == "v2"
        life = room_life_of(cfg, site, room, churn_users) if full else None
        row = await scenarios.fan_out(
            servers=[site],
            room=room,
            users=users,
            receivers=cfg.receivers,
            messages=cfg.formatted_messages,
            workers=cfg.workers,
            idle_timeout=30.0,
            hold=True,
            life=life,
            text=texts["formatted" if full else "plain"],
            homes=full,
        )
        run.add("v2", asgi, "site", variant, {"pair": pair, **row})
        await asyncio.sleep(3.0)  # the departures' grace (2 s by default) runs out
        await scenarios.settle([site])


async def history(run: Run, asgi: str, site: Server, users: Users, env: dict[str, str]) -> None:
    rooms = {}
    for size in run.cfg.history_sizes:
        slug = rooms[size] = f"bench_history_{size}"
        progress(f"seeding {slug} with {size:,} messages (reused when present)")
        run_python(
            env,
            "-m",
            "bench.seed",
            "history",
            "--room",
            slug,
            "--count",
            str(size),
            timeout=SETUP_TIMEOUT,
        )
    progress(f"history pages: {run.cfg.history_samples} samples per room and place")
    for row in await scenarios.history_times(site, rooms, users, run.cfg.history_samples):
        run.add("history", asgi, "site", str(row["size"]), row)


async def cross_process(run: Run, env: dict[str, str], users: Users) -> None:
    """The same load on one process and on two processes sharing Redis."""
    cfg = run.cfg
    redis = None
    redis_url = run.redis_url
    if redis_url is None:
        # A redis-server of our own: the site's per-user groups (`user.<id>`) would meet
        # other users of a shared Redis, and a private one can be thrown away.
        redis = RedisServer(run.out_dir / "logs").start()
        redis_url = redis.url
    env = server_env(run.db_url, redis_url, site_settings=run.site_settings)
    env["CHANNEL_LAYER_PREFIX"] = f"bench{run.run_id}"  # apart from anyone sharing Redis
    log_dir = run.out_dir / "logs"
    try:
        for asgi in cfg.servers:
            for target in (t for t in cfg.targets if t != "bare"):
                for procs in cfg.cross_processes:
                    servers = [Server(target, asgi, env, log_dir) for _ in range(procs)]
                    try:
                        for server in servers:
                            server.start()
                        row = await scenarios.fan_out(
                            servers=servers,
                            room=run.room("cross", asgi, f"{target}{procs}"),
                            users=users,
                            receivers=cfg.cross_receivers or cfg.receivers,
                            messages=cfg.messages,
                            workers=cfg.workers,
                        )
                    finally:
                        for server in servers:
                            server.stop()
                    run.add("cross", asgi, target, f"{procs}proc", row)
    finally:
        if redis is not None:
            redis.stop()


def machine_facts(started: float) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        # The servers run the working tree: say so when the server code differs from HEAD.
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "chat", "chatsite"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if commit and changed:
            commit += "+changes"
    except OSError:
        commit = ""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def run_sync(
    cfg: Config,
    out_dir: Path,
    db_url: str | None,
    redis_url: str | None,
    site_settings: str,
    profile_dir: Path | None = None,
    search_urls: list[str] | None = None,
) -> dict:
    out_dir = out_dir.resolve()  # the private redis-server starts elsewhere: --dir must hold
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    DATA_DIR.mkdir(exist_ok=True)
    return asyncio.run(
        main(cfg, out_dir, db_url, redis_url, site_settings, profile_dir, search_urls)
    )
