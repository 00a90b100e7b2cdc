"""HTTP hardening: explicit development mode and a secret key that is never a
public one (finding 12)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- finding 12: DEBUG and SECRET_KEY ---------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """No SECRET_KEY, no DEBUG: what a fresh shell has."""
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "chatsite.settings"}
    env.update(extra)
    return env


SHOW_SETTINGS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, len(settings.SECRET_KEY))"
)


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_no_secret_key_with_debug_off_refuses_to_start():
    message = "ImproperlyConfigured: SECRET_KEY is not set."
    for args in (["-c", SHOW_SETTINGS], ["manage.py", "check"]):
        done = run_python(clean_env(), *args)
        assert done.returncode != 0, done.stdout
        assert message in done.stderr, done.stderr[-2000:]
        line = next(ln for ln in done.stderr.splitlines() if message in ln)
        assert "DEBUG=1" in line  # the one line says what to set
    done = run_python(clean_env(DEBUG="0"), "-c", SHOW_SETTINGS)
    assert done.returncode != 0 and message in done.stderr


def test_debug_is_off_unless_asked_for():
    done = run_python(clean_env(SECRET_KEY="k" * 60), "-c", SHOW_SETTINGS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "False"
    done = run_python(clean_env(SECRET_KEY="k" * 60, DEBUG="1"), "-c", SHOW_SETTINGS)
    assert done.stdout.split()[0] == "True"


def test_debug_without_a_key_uses_this_installs_own_key():
    done = run_python(
        clean_env(DEBUG="1"),
        "-c",
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY == open('.secret_key').read().strip())",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    key_file = ROOT / ".secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "django-insecure" not in key_file.read_text()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key_file)], cwd=ROOT)
    assert ignored.returncode == 0, ".secret_key is not gitignored"


def test_local_secret_key_is_made_once_private_and_race_free(tmp_path):
    from chatsite.settings import local_secret_key

    key_file = tmp_path / ".secret_key"
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(local_secret_key(key_file))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(keys) == 8 and len(set(keys)) == 1  # every caller got the one key
    assert len(keys[0]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert local_secret_key(key_file) == keys[0]
    assert [p.name for p in tmp_path.iterdir()] == [".secret_key"]  # no temporary left over
