"""Server processes under test: the site and the tutorial baseline under daphne or uvicorn,
the bare `websockets` ceiling, and a private redis-server for the cross-process scenario."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60

SITE_APP = "chatsite.asgi:application"
TUTORIAL_APP = "bench.tutorial.asgi:application"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not listen within {STARTUP_TIMEOUT}s")


@dataclass
class Server:
    """One server process. `target` is site | tutorial | bare; `asgi` is daphne | uvicorn
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
        if self.asgi == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def start(self) -> Server:
        log_path = self.log_dir / f"{self.target}-{self.asgi}-{self.port}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.log_path = log_path
        wait_listening(self.port, self.proc, log_path)
        return self

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence. The site's settings
    have no channel-layer prefix setting, and its per-user groups (`user.<id>`) would meet
    other users of a shared Redis; a private one also lets us throw it away."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> PrivateRedis:
        log_path = self.log_dir / f"redis-{self.port}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_listening(self.port, self.proc, log_path)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def server_env(
    db_url: str, redis_url: str | None = None, site_settings: str = "bench.site_settings"
) -> dict[str, str]:
    """The environment of every server process of a run: production-like (DEBUG off, so
    Django keeps no query log), the bench database, and the channel layer chosen."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": "bench-not-secret",
            "DEBUG": "0",
            "DATABASE_URL": db_url,
            "PYTHONPATH": str(ROOT),
            # One sender posts as fast as it can: measure fan-out, not the abuse brake.
            "CHAT_RATE_LIMIT_PER_SECOND": "0",
            # The scenarios' rooms are made by their first visit, as the tutorial's are.
            "CHAT_AUTO_CREATE_ROOMS": "1",
        }
    )
    # The site's settings minus the per-user rate limit (bench/site_settings.py says why);
    # the tutorial's asgi module picks its own settings.
    env["DJANGO_SETTINGS_MODULE"] = site_settings
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env
