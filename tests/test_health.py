"""/healthz: 200 when the database and the channel layer answer, 503 when either is down,
and 200 again when it returns, with no restart."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from django.test import AsyncClient

from tests.proxy import TcpProxy
from tests.stack import pg_address
from tests.support.ports import free_port
from tests.support.processes import LiveServer, base_env


@pytest.mark.django_db
async def test_healthz_answers_without_login():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["channel_layer"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def get_health(server: LiveServer) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_health(server: LiveServer, status: int, timeout: float = 30) -> dict:
    """Poll /healthz until it answers `status` (each answer is a real check, not a sleep)."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = get_health(server)
        if seen[0] == status:
            return seen[1]
    raise AssertionError(f"/healthz never answered {status}; last: {seen}")


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
def test_healthz_follows_redis_and_postgres_down_and_back(pg_database, redis_server, tmp_path):
    host, port = pg_address()
    pg_proxy = TcpProxy(host, port).start()
    try:
        database_url = pg_database.replace(f"{host}:{port}", f"127.0.0.1:{pg_proxy.port}")
        env = base_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_server.url,
            CHANNEL_LAYER_PREFIX=f"health{free_port()}",
        )
        server = LiveServer(env, tmp_path / "daphne.log").start()
        try:
            body = wait_health(server, 200)
            assert body["database"]["ok"] and body["channel_layer"]["ok"]

            redis_server.kill()
            body = wait_health(server, 503)
            assert body["channel_layer"]["ok"] is False
            assert body["database"]["ok"] is True

            redis_server.start()  # same port, empty: the process must reconnect by itself
            wait_health(server, 200)

            pg_proxy.cut()
            body = wait_health(server, 503)
            assert body["database"]["ok"] is False
            assert body["channel_layer"]["ok"] is True

            pg_proxy.restore()
            wait_health(server, 200)
            assert server.proc.poll() is None, "the server process must not have restarted"
        finally:
            server.stop()
    finally:
        pg_proxy.stop()
