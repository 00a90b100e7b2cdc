"""THE redis-server wrapper of tests and benchmarks: a redis-server of our own on a free
port, in memory only (no persistence, so a kill loses everything it held), which its owner
may kill and restart. With `sentinel_for=<port>` it is a Redis Sentinel instead, watching
the master on that port under the name SENTINEL_MASTER.

Its output goes to redis-<port>.log in its working directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import kill_process, log_tail, start_process, stop_process

STARTUP_TIMEOUT = 10
SENTINEL_MASTER = "chat"


class RedisServerMissing(RuntimeError):
    """There is no redis-server binary on PATH."""


class RedisServer:
    def __init__(self, workdir: Path, *, sentinel_for: int | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.sentinel_for = sentinel_for
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"redis-{self.port}.log"

    def _command(self, binary: str) -> list[str]:
        if self.sentinel_for is None:
            return [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ]
        config = self.workdir / "sentinel.conf"  # a sentinel needs a file it may rewrite
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.sentinel_for} 1\n"
        )
        return [binary, str(config), "--sentinel"]

    def _answers(self) -> bool:
        """A server answers PING; a sentinel knows its master's address."""
        if self.sentinel_for is None:
            ask, want = b"PING\r\n", b"+PONG"
        else:
            ask = f"SENTINEL get-master-addr-by-name {SENTINEL_MASTER}\r\n".encode()
            want = str(self.sentinel_for).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(ask)
                return want in sock.recv(256)
        except OSError:
            return False

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerMissing("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = start_process(self._command(binary), self.log_path, cwd=self.workdir)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._answers():
                return self
            time.sleep(0.05)
        what = "redis sentinel" if self.sentinel_for else "redis-server"
        raise RuntimeError(f"{what} did not start on port {self.port}:\n{log_tail(self.log_path)}")

    def kill(self) -> None:
        """SIGKILL: Redis crashes, losing everything it held (no persistence)."""
        kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc)

    def restart(self) -> None:
        self.kill()
        self.start()
