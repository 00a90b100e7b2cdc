"""Real server processes for end-to-end tests: daphne on a free port, logins over HTTP, and
`websockets` clients. Nothing here is mocked."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process: this one's, minus the deployment variables that
    would change what is tested, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "chatsite.settings"})
    # Most end-to-end tests chat in rooms of their own, made by the first visit as in the
    # tutorial; the tests of explicit creation turn it off.
    env.setdefault("CHAT_AUTO_CREATE_ROOMS", "1")
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run manage.py with `env` and return its output; raise if it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def create_user(env: dict[str, str], username: str, password: str, **flags: bool) -> None:
    code = (
        "from django.contrib.auth import get_user_model;"
        f"get_user_model().objects.create_user({username!r}, password={password!r}, **{flags!r})"
    )
    manage(env, "shell", "-c", code)


class LiveServer:
    """A daphne process serving chatsite.asgi on 127.0.0.1:<port>."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, room: str, since: int | None = None) -> str:
        query = f"?since={since}" if since is not None else ""
        return f"ws://127.0.0.1:{self.port}/ws/chat/{room}/{query}"

    def start(self) -> LiveServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [*DAPHNE, "-p", str(self.port), "chatsite.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"daphne did not listen within {STARTUP_TIMEOUT}s")

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def login(base_url: str, username: str, password: str) -> str:
    """Log in through the site's login form; return the Cookie header for WebSockets."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the login page has no CSRF token"
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/accounts/login/", data=form, headers={"Referer": f"{base_url}/accounts/login/"}
    )
    opener.open(request, timeout=10).read()
    cookies = {c.name: c.value for c in jar}
    assert "sessionid" in cookies, "login failed: no session cookie"
    return f"sessionid={cookies['sessionid']}"


async def ws_connect(server: LiveServer, room: str, cookie: str, **kwargs: Any):
    """Open a `websockets` client connection the way a logged-in browser page would."""
    since = kwargs.pop("since", None)
    return await websockets.connect(
        server.ws_url(room, since),
        additional_headers=[("Cookie", cookie)],
        origin=server.url,
        open_timeout=10,
        **kwargs,
    )
