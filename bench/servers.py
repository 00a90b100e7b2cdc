"""Server processes under test: the site and the tutorial baseline under an ASGI server
(daphne, uvicorn, granian or hypercorn), and the bare `websockets` ceiling (started and
stopped by tests/support/processes.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import (
    DAPHNE,
    ROOT,
    base_env,
    start_process,
    stop_process,
    wait_listening,
)

STARTUP_TIMEOUT = 60

SITE_APP = "chatsite.asgi:application"
TUTORIAL_APP = "bench.tutorial.asgi:application"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _uvicorn(app: str, port: str) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port),
        *("--lifespan", "off", "--log-level", "warning", "--no-access-log"),
    ]


def _granian(app: str, port: str) -> list[str]:
    # `asginl` is granian's ASGI interface without lifespan (the site has none). uvloop, as
    # uvicorn picks it: the servers differ, not the loop under the app.
    return [
        *(sys.executable, "-m", "granian", "--interface", "asginl", "--ws", "--workers", "1"),
        *("--loop", "uvloop", "--host", "127.0.0.1", "--port", port),
        *("--no-access-log", "--log-level", "warning", app),
    ]


def _hypercorn(app: str, port: str) -> list[str]:
    # `-w 0`: serve in this process (`-w 1` spawns a worker under a supervisor); uvloop, as
    # uvicorn picks it. Hypercorn cannot switch lifespan off: it logs the site's refusal
    # once ("ASGI Framework Lifespan error, continuing without Lifespan support"). No
    # --access-logfile: no access log.
    return [
        *(sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "-w", "0"),
        *("-k", "uvloop", "--log-level", "warning", app),
    ]


# ASGI server -> the command serving `app` on 127.0.0.1:`port` (DEBUG off: server_env).
COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "daphne": lambda app, port: [*DAPHNE, "-p", port, app],
    "uvicorn": _uvicorn,
    # As docs/deployment.md recommends it: declining permessage-deflate, which browsers
    # offer and which costs uvicorn ~40 KiB of zlib state per socket.
    "uvicorn-nodeflate": lambda app, port: [*_uvicorn(app, port), "--ws-per-message-deflate", "0"],
    "granian": _granian,
    "hypercorn": _hypercorn,
}


@dataclass
class Server:
    """One server process. `target` is site | tutorial | bare; `asgi` is one of COMMANDS
    (bare runs on its own)."""

    target: str
    asgi: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, room: str, since: int | None = None) -> str:
        if self.target == "bare":
            return f"ws://127.0.0.1:{self.port}/"
        query = f"?since={since}" if since is not None else ""
        return f"ws://127.0.0.1:{self.port}/ws/chat/{room}/{query}"

    def command(self) -> list[str]:
        if self.target == "bare":
            return [sys.executable, "-m", "bench.bare", "--port", str(self.port)]
        app = SITE_APP if self.target == "site" else TUTORIAL_APP
        return COMMANDS[self.asgi](app, str(self.port))

    def start(self) -> Server:
        log_path = self.log_dir / f"{self.target}-{self.asgi}-{self.port}.log"
        self.proc = start_process(self.command(), log_path, env=self.env)
        self.log_path = log_path
        wait_listening(self.port, self.proc, log_path, STARTUP_TIMEOUT)
        return self

    @property
    def pid(self) -> int:
        """The process that serves: granian's supervisor forks its one worker, which does."""
        assert self.proc is not None
        if self.asgi != "granian":
            return self.proc.pid
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return int(children.split()[0])

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        stop_process(self.proc)


def server_env(
    db_url: str, redis_url: str | None = None, site_settings: str = "bench.site_settings"
) -> dict[str, str]:
    """The environment of every server process of a run: production-like (DEBUG off, so
    Django keeps no query log), the bench database, and the channel layer chosen."""
    env = base_env(
        SECRET_KEY="bench-not-secret",
        DEBUG="0",
        DATABASE_URL=db_url,
        PYTHONPATH=str(ROOT),
        # One sender posts as fast as it can: measure fan-out, not the abuse brake.
        CHAT_RATE_LIMIT_PER_SECOND="0",
        # The scenarios' rooms are made by their first visit, as the tutorial's are.
        CHAT_AUTO_CREATE_ROOMS="1",
        # The site's settings minus the per-user rate limit (bench/site_settings.py says
        # why); the tutorial's asgi module picks its own settings.
        DJANGO_SETTINGS_MODULE=site_settings,
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env
