"""The production stack for tests: PostgreSQL databases of their own and redis-server
processes of their own, so that tests may kill or cut them without touching the machine's
shared services.

Where the services come from: PostgreSQL at TEST_PG_URL (default: the server of
DATABASE_URL when that is PostgreSQL, else postgres://postgres@127.0.0.1:5432), and the
`redis-server` binary on PATH. When they are missing the tests that need them skip, except
with CI=true, where they fail (see tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests.live import free_port

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true: with CI nothing that needs a service may be skipped."""
    if CI:
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def run_id() -> str:
    """Unique per test run (tests/run.sh sets it), so concurrent runs never share names."""
    value = os.environ.get("TEST_RUN_ID")
    if not value:
        value = os.environ["TEST_RUN_ID"] = uuid.uuid4().hex[:10]
    return value


_counter = 0


def unique_name(kind: str) -> str:
    """A database or prefix name no other run or test uses."""
    global _counter
    _counter += 1
    return f"chat_{run_id()}_{os.getpid()}_{kind}{_counter}"


# --- PostgreSQL -------------------------------------------------------------------------


def pg_server_url() -> str:
    """postgres://user[:password]@host:port of the server to create test databases on."""
    url = os.environ.get("TEST_PG_URL")
    if not url:
        db = os.environ.get("DATABASE_URL", "")
        url = (
            db
            if db.startswith(("postgres://", "postgresql://"))
            else "postgres://postgres@127.0.0.1:5432"
        )
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def pg_url(name: str, server: str | None = None) -> str:
    return f"{server or pg_server_url()}/{name}"


def pg_address(server: str | None = None) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server or pg_server_url())
    return parts.hostname or "127.0.0.1", parts.port or 5432


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def require_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(pg_url("postgres"), connect_timeout=5):
            pass
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {pg_server_url()} is not reachable: {exc}")


def create_database(name: str, template: str | None = None) -> None:
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Redis ------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the test's own on a free port, in memory only."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: Redis crashes, losing everything it held (no persistence)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()
