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
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.redis_server import RedisServer, RedisServerMissing

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


def start_redis(workdir: Path, **options: Any) -> RedisServer:
    """A started redis-server of the test's own (tests/support/redis_server.py; `options`
    as RedisServer takes them); skip, or fail under CI=true, when it is not installed."""
    try:
        return RedisServer(workdir, **options).start()
    except RedisServerMissing as exc:
        unavailable(str(exc))
        raise
