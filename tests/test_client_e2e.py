"""The terminal client (`python -m chat.client`, docs/client.md) against a real daphne: typed
in a pseudo-terminal, through a server SIGKILLed and restarted on the same port and database
while lines are typed; `--json` through pipes; a bad token. The client runs without Django
settings (DJANGO_SETTINGS_MODULE is taken out of its environment): it needs only websockets."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from websockets.sync.client import connect

from tests.support.processes import ROOT, LiveServer, manage

pytestmark = [pytest.mark.e2e]

ROOM = "terminal"
TIMEOUT = 20  # seconds for anything the client should print
LINE = re.compile(r"^\[\d\d:\d\d\] (\S+): (.*)$")  # a message line (not a change, not status)


@dataclass
class Site:
    server: LiveServer
    env: dict[str, str]
    tokens: dict[str, str]

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}"


def users_with_tokens(env: dict[str, str], *names: str) -> dict[str, str]:
    """Users `names` and an API token each, by one manage.py shell in the server's
    environment (what `manage.py create_api_token <user>` does, without a process each)."""
    code = (
        "import json; from django.contrib.auth import get_user_model; from chat import services\n"
        f"tokens = {{n: services.create_api_token(user=get_user_model().objects.create_user(n),"
        f" name='terminal')[1] for n in {list(names)!r}}}\n"
        "print(json.dumps(tokens))"
    )
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def stored(env: dict[str, str]) -> list[tuple[int, str, str]]:
    """(seq, username, body) of the room, from the server's database, in seq order."""
    code = (
        "import json; from chat.models import Message;"
        f"rows = Message.objects.filter(room__slug={ROOM!r}).order_by('seq')"
        ".values_list('seq', 'author__username', 'body');"
        "print(json.dumps(list(rows)))"
    )
    return [tuple(r) for r in json.loads(manage(env, "shell", "-c", code).splitlines()[-1])]


def post_as(site: Site, user: str, *bodies: str) -> None:
    """Post `bodies` as `user` with a plain websockets client; return once each is stored."""
    headers = {"Authorization": f"Bearer {site.tokens[user]}"}
    with connect(f"{site.base}/ws/chat/{ROOM}/", additional_headers=headers, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
        for body in bodies:
            client_id = uuid.uuid4().hex
            ws.send(json.dumps({"type": "message", "body": body, "client_id": client_id}))
            while True:
                frame = json.loads(ws.recv(timeout=10))
                if frame["type"] == "message" and frame["message"].get("client_id") == client_id:
                    break
                assert frame["type"] != "error", frame


def client_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(TZ="UTC", PYTHONUNBUFFERED="1", TERM="dumb")
    return env


def client_command(site: Site, user: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "chat.client", "--url", site.base, "--room", ROOM,
            "--token", site.tokens.get(user, user), *extra]  # fmt: skip


class Terminal:
    """A process on a pseudo-terminal of its own (its controlling terminal, so Ctrl-C and
    Ctrl-D mean what they mean to a person), with what it printed so far."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.fd = master
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.output = ""
        self._seen = 0  # expect() searches from here

    def _read(self, until: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
        if ready:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the process closed its end
                data = b""
            self.output += data.decode(errors="replace").replace("\r\n", "\n")
            if not data:
                time.sleep(0.05)

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until `pattern` (a regex, multiline) appears after the last match."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.M)
        while not (match := regex.search(self.output, self._seen)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not printed; the terminal:\n{self.output}")
            self._read(deadline)
        self._seen = match.end()
        return match

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(min(deadline, time.monotonic() + 0.1))
        try:
            return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            self._read(time.monotonic())  # what it printed last

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.fd)

    def messages(self) -> list[tuple[str, str]]:
        """(user, body) of every message line printed, in order."""
        return [m.groups() for line in self.output.splitlines() if (m := LINE.match(line))]


@pytest.fixture
def site(live_env, tmp_path) -> Iterator[Site]:
    env = {**live_env, "CHAT_FANOUT_REFRESH_SECONDS": "0.5"}  # a revoked token's close: soon
    tokens = users_with_tokens(env, "alice", "bob")
    server = LiveServer(env, tmp_path / "daphne.log").start()
    made = Site(server, env, tokens)
    yield made
    made.server.stop()


def test_history_live_messages_and_a_server_restart_lose_nothing(site, tmp_path):
    post_as(site, "bob", "first from bob", "second from bob")
    term = Terminal(client_command(site, "alice"), client_env())
    try:
        term.expect(r"^-- connected to terminal as alice")
        term.expect(r"^\[\d\d:\d\d\] bob: first from bob$")
        term.expect(r"^\[\d\d:\d\d\] bob: second from bob$")

        term.type("hello from the terminal\n")
        term.expect(r"^\[\d\d:\d\d\] alice: hello from the terminal$")
        post_as(site, "bob", "live from bob")
        term.expect(r"^\[\d\d:\d\d\] bob: live from bob$")

        # A burst, and the crash as soon as its first is shown: the rest are in flight
        # (stored and not yet acknowledged, or not yet read: the resend sorts it out).
        for n in (1, 2, 3, 4):
            term.type(f"in flight {n}\n")
        term.expect(r"^\[\d\d:\d\d\] alice: in flight 1$")
        site.server.kill()  # SIGKILL: no close frame, the TCP connection just ends
        term.expect(r"^-- disconnected .*reconnecting in")
        for n in (1, 2, 3):  # typed while there is no server at all
            term.type(f"typed in the outage {n}\n")
        term.expect(r"^-- disconnected .*[3-6] unsent")  # still trying, the posts kept
        site.server = LiveServer(
            site.env, tmp_path / "daphne-restarted.log", port=site.server.port
        ).start()
        term.expect(r"^-- reconnected, resuming after \d+, resending [3-6]")
        for n in (1, 2, 3):
            term.expect(rf"^\[\d\d:\d\d\] alice: typed in the outage {n}$")
        post_as(site, "bob", "bob after the restart")
        term.expect(r"^\[\d\d:\d\d\] bob: bob after the restart$")

        term.type("\x04")  # Ctrl-D: end of input, nothing left to send
        assert term.wait() == 0, term.output
    finally:
        term.close()

    print(f"\nthe terminal (run with -s to see it):\n{term.output}")
    rows = stored(site.env)
    bodies = [body for _, _, body in rows]
    for body in [f"in flight {n}" for n in (1, 2, 3, 4)] + [
        f"typed in the outage {n}" for n in (1, 2, 3)
    ]:
        assert bodies.count(body) == 1, rows
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    # Everything stored, shown once each, in seq order: no duplicate, no gap.
    assert term.messages() == [(user, body) for _, user, body in rows], term.output
    assert len(rows) == 12


def json_lines_through_pipes(site: Site) -> None:
    post_as(site, "bob", "before the client")
    done = subprocess.run(
        client_command(site, "alice", "--json"),
        cwd=ROOT,
        env=client_env(),
        input="one from a pipe\n\ntwo: with *markdown*\n",  # the blank line is not posted
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(m["seq"], m["user"], m["body"]) for m in objects] == [
        (1, "bob", "before the client"),
        (2, "alice", "one from a pipe"),
        (3, "alice", "two: with *markdown*"),
    ]
    assert objects[2]["html"] == "<p>two: with <em>markdown</em></p>"
    assert all(m["client_id"].startswith("t-") for m in objects[1:])
    assert "connected to terminal as alice" in done.stderr  # news on stderr, not stdout

    # Nothing to post (stdin at its end at once): it prints the latest page and exits 0.
    done = subprocess.run(
        client_command(site, "bob", "--json"),
        cwd=ROOT,
        env=client_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["seq"] for line in done.stdout.splitlines()] == [1, 2, 3]


def the_docs_bot_posts(site: Site) -> None:
    """docs/client.md's "A bot in ten lines of Python", run as it is printed there."""
    docs = (ROOT / "docs" / "client.md").read_text()
    bot = re.search(r"## A bot in ten lines.*?```python\n(.*?)```", docs, re.S).group(1)
    assert len(bot.strip().splitlines()) <= 12
    env = {**client_env(), "CHAT_TOKEN": site.tokens["bob"], "CHAT_URL": site.base}
    done = subprocess.run(
        [sys.executable, "-c", bot, "deploy", "finished"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    code = (
        "from chat.models import Message;"
        "print(Message.objects.filter(room__slug='lobby', author__username='bob')"
        ".values_list('body', flat=True).get())"
    )
    assert manage(site.env, "shell", "-c", code).splitlines()[-1] == "deploy finished"
    # Refused (an empty body): it says so and fails.
    done = subprocess.run(
        [sys.executable, "-c", bot], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1 and "refused: empty" in done.stderr, done.stderr


def a_bad_token_exits_with_2(site: Site) -> None:
    """Refused, said so, exit 2, no retry."""
    started = time.monotonic()
    done = subprocess.run(
        client_command(site, "chat_" + "x" * 43),
        cwd=ROOT,
        env=client_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "refused the connection (403): the token is wrong" in done.stderr
    assert "reconnecting" not in done.stderr
    assert time.monotonic() - started < 10
    assert done.stdout == ""


def ctrl_c_exits_at_once(site: Site) -> None:
    term = Terminal(client_command(site, "alice"), client_env())
    try:
        term.expect(r"^-- connected to terminal as alice")
        term.type("\x03")  # Ctrl-C
        assert term.wait() == 130
        term.expect(r"-- interrupted$")  # after the ^C the terminal echoes
        assert "Traceback" not in term.output
    finally:
        term.close()


def a_revoked_token_ends_the_client(site: Site) -> None:
    """Closed with 4403 (the token revoked): said so, exit 3, no reconnect."""
    term = Terminal(client_command(site, "bob"), client_env())
    try:
        term.expect(r"^-- connected to terminal as bob")
        manage(
            site.env,
            "shell",
            "-c",
            "from chat import services; from chat.models import ApiToken\n"
            "row = ApiToken.objects.get(user__username='bob')\n"
            "services.revoke_api_token(actor=row.user, token=row)",
        )
        term.expect(r"^-- closed by the server \(4403\): .*token revoked or expired")
        assert term.wait() == 3  # and no reconnect
        assert "reconnecting" not in term.output
    finally:
        term.close()


def test_json_lines_the_docs_bot_a_bad_token_ctrl_c_and_a_revoked_token(site):
    """One server for these (starting one costs seconds)."""
    json_lines_through_pipes(site)
    the_docs_bot_posts(site)
    a_bad_token_exits_with_2(site)
    ctrl_c_exits_at_once(site)
    a_revoked_token_ends_the_client(site)


def test_the_client_does_not_import_django():
    code = (
        "import sys, chat.client.__main__, chat.client.session;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=client_env(), capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]", done.stderr
