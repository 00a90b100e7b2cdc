"""Shared fixtures: users, logged-in WebSocket communicators over the real ASGI app."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client

# make_user is tests/support/accounts.py's; still imported from here by
# tests/test_accounts.py and tests/test_http_security.py.
from tests.support.accounts import make_user

TIMEOUT = 5


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """A new channel layer per test: the in-memory one binds queues to the test's loop."""
    channel_layers.backends = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Tests start from an empty database: drop the `lobby` that the first migrate creates
    (tests/test_rooms.py checks that it does), or the first test to use it would find a room
    with no owner and every later one a room of its own."""
    from chat.models import Room

    with django_db_blocker.unblock():
        Room.objects.filter(slug="lobby").delete()


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings, monkeypatch) -> None:
    """Rate-limit buckets of the test's own: user ids repeat from test to test, and a
    bucket an earlier test drained (in memory or in Redis) must not refuse this one."""
    from chat import ratelimit
    from chat.services import mentions
    from tests.stack import unique_name

    monkeypatch.setattr(ratelimit, "_sync_store", None)
    mentions.forget_names()  # user ids repeat from test to test, names too
    settings.CHAT_RATE_LIMIT_KEY_PREFIX = unique_name("rl") + ":"
    settings.CHAT_PRESENCE_KEY_PREFIX = unique_name("presence") + ":"  # and presence


@pytest.fixture(autouse=True)
def auto_create_rooms(settings) -> None:
    """Most tests chat in rooms made by their first visit, as in the tutorial (the setting's
    default is off: rooms are created on purpose); the tests of that default turn it off."""
    settings.CHAT_AUTO_CREATE_ROOMS = True


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


# Room life's frames come whenever people arrive, type or read (tests/test_roomlife.py
# tests them); the other tests read past them unless they ask for one by type.
ROOM_LIFE = frozenset({"presence", "presence_changes", "typing", "unread", "rooms"})


class Chat:
    """A WebsocketCommunicator that speaks JSON frames. `recv` skips room-life frames
    (ROOM_LIFE) unless `life` is set; `recv_type` of one of them waits for that type."""

    def __init__(self, communicator: WebsocketCommunicator, *, life: bool = False) -> None:
        self.comm = communicator
        self.skip = frozenset() if life else ROOM_LIFE
        self.pending: deque[Any] = deque()  # frames nothing() took off the queue

    async def connect(self) -> tuple[bool, int | None]:
        return await self.comm.connect(timeout=TIMEOUT)

    async def send(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.comm.send_to(text_data=text)

    async def recv(self, timeout: float = TIMEOUT, want: str = "") -> dict[str, Any]:  # noqa: ASYNC109
        if self.pending:
            return self.pending.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = max(0.01, deadline - loop.time())
            frame = json.loads(await self.comm.receive_from(timeout=left))
            if frame.get("type") not in self.skip or frame.get("type") == want:
                return frame

    async def recv_type(self, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:  # noqa: ASYNC109
        """The next frame, which must be of type `kind`."""
        frame = await self.recv(timeout, want=kind)
        assert frame["type"] == kind, frame
        return frame

    async def nothing(self, timeout: float = 0.2, skip: frozenset[str] | None = None) -> bool:  # noqa: ASYNC109
        """Whether no frame (but skipped ones: `skip`, else the socket's) arrives within
        `timeout`. (receive_from's timeout would cancel the application when none comes.)"""
        skip = self.skip if skip is None else skip
        if self.pending:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        queue = self.comm.output_queue
        while loop.time() < deadline:
            while not queue.empty():
                message = queue.get_nowait()
                frame = json.loads(message.get("text") or "null") if "text" in message else None
                if frame is None or frame.get("type") not in skip:
                    self.pending.append(frame if frame is not None else message)
                    return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        await self.comm.disconnect()


@pytest.fixture
async def alice(transactional_db):
    """alice and bob, for the async tests (a module's own fixture of that name wins)."""
    return await database_sync_to_async(make_user)("alice")


@pytest.fixture
async def bob(transactional_db):
    return await database_sync_to_async(make_user)("bob")


@pytest.fixture
async def open_chat(transactional_db) -> AsyncIterator[Callable[..., Any]]:
    """open_chat(user, room, since=None, origin="http://localhost") -> connected Chat
    (welcome not yet read), or raises AssertionError if the handshake was refused."""
    from chatsite.asgi import application

    opened: list[Chat] = []

    async def _open(
        user=None,
        room: str = "lobby",
        *,
        since: int | None = None,
        origin: str | None = "http://localhost",
        expect_refused: bool = False,
    ) -> Chat:
        headers = [(b"host", b"localhost")]  # as a browser on http://localhost sends it
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if user is not None:
            cookie = await database_sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = f"/ws/chat/{room}/" + (f"?since={since}" if since is not None else "")
        chat = Chat(WebsocketCommunicator(application, path, headers=headers))
        connected, _ = await chat.connect()
        if expect_refused:
            assert not connected, "the handshake should have been refused"
            return chat
        assert connected, "the handshake was refused"
        opened.append(chat)
        return chat

    yield _open
    for chat in opened:
        await chat.close()


@pytest.fixture
def live_env(tmp_path, request):
    """Environment for server processes on a fresh, migrated database: a SQLite file on the
    embedded default; on the production stack (DATABASE_URL is PostgreSQL, as in tests/run.sh's
    second pass) a PostgreSQL database of the test's own, plus REDIS_URL with a channel-layer
    prefix of the test's own."""
    from tests.support.processes import base_env

    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        from tests import stack

        template = request.getfixturevalue("pg_template")
        name = stack.unique_name("live")
        stack.create_database(name, template=template)
        request.addfinalizer(lambda: stack.drop_database(name))
        extra = {"CHANNEL_LAYER_PREFIX": name}
        if os.environ.get("REDIS_URL"):
            extra["REDIS_URL"] = os.environ["REDIS_URL"]
        return base_env(DATABASE_URL=stack.pg_url(name), **extra)
    # A copy of a file migrated once per session: migrating costs seconds of CPU per test.
    template = request.getfixturevalue("sqlite_template")
    shutil.copyfile(template, tmp_path / "live.sqlite3")
    return base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'live.sqlite3'}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file for live_env to copy."""
    from tests.support.processes import base_env, manage

    path = tmp_path_factory.mktemp("sqlite-template") / "live.sqlite3"
    manage(base_env(DATABASE_URL=f"sqlite:///{path}"), "migrate", "--noinput")
    # The migrating process has exited, so its WAL is checkpointed into the file; make sure.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def live_server_factory(live_env, tmp_path):
    """live_server_factory(env=None) -> started LiveServer; all are stopped at the end."""
    from tests.support.processes import LiveServer

    servers: list[LiveServer] = []

    def start(env: dict[str, str] | None = None) -> LiveServer:
        server = LiveServer(env or live_env, tmp_path / f"daphne-{len(servers)}.log").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite tests run on a file, as the site does. Django's default in-memory test database
    shares one cache between threads, and there a second writer fails at once with "table is
    locked" instead of waiting for the lock as it does on a file (WAL + busy timeout)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


# --- production stack: PostgreSQL and Redis of the tests' own (tests/stack.py) -----------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true a test that needs Redis, PostgreSQL or the browser fails instead of
    skipping, however it was skipped: CI must not pass without having run them."""
    outcome = yield
    report = outcome.get_result()
    needs = {"redis", "postgres", "browser"} & {m.name for m in item.iter_markers()}
    if report.skipped and needs and os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, but it needs {', '.join(sorted(needs))}: " + str(
            report.longrepr
        )


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    """A migrated PostgreSQL database to copy (CREATE DATABASE ... TEMPLATE takes a
    fraction of a second; migrating takes seconds)."""
    from tests import stack
    from tests.support.processes import base_env, manage

    stack.require_postgres()
    name = stack.unique_name("tpl")
    stack.create_database(name)
    try:
        manage(base_env(DATABASE_URL=stack.pg_url(name)), "migrate", "--noinput")
        yield name
    finally:
        stack.drop_database(name)


@pytest.fixture
def pg_database(pg_template, request) -> str:
    """The URL of a fresh, migrated PostgreSQL database of this test's own."""
    from tests import stack

    name = stack.unique_name("db")
    stack.create_database(name, template=pg_template)
    request.addfinalizer(lambda: stack.drop_database(name))
    return stack.pg_url(name)


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (free port, no persistence), which the test may
    kill and restart."""
    from tests.stack import start_redis

    server = start_redis(tmp_path)
    yield server
    server.kill()


# Browser fixtures (headless Debian Chromium via Playwright): see tests/browser.py.
from tests.browser import browser, new_page  # noqa: E402, F401
