"""Processes of tests and benchmarks: the environment they run in, `python` commands run to
completion (manage.py among them), and servers started until they listen and then stopped.
LiveServer is daphne serving the site on a free port. Nothing here is mocked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]


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


def run_python(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `python *args` in the repository root with `env`; return its output; raise if it
    fails."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run manage.py with `env` and return its output; raise if it fails."""
    return run_python(env, "manage.py", *args, timeout=timeout)


def start_process(
    command: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Start `command` with its output (stdout and stderr) appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


def log_tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-chars:]


def wait_listening(
    port: int,
    proc: subprocess.Popen[bytes],
    log_path: Path,
    timeout: float = STARTUP_TIMEOUT,
    name: str = "server",
) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`; raise if `proc` exits
    first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} on port {port} did not listen within {timeout}s")


def kill_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL: a crash, with no chance to clean up."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_process(proc)


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
        command = [*DAPHNE, "-p", str(self.port), "chatsite.asgi:application"]
        self.proc = start_process(command, self.log_path, env=self.env)
        wait_listening(self.port, self.proc, self.log_path, name="daphne")
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
