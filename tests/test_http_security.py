"""HTTP hardening: the Content-Security-Policy header (finding 11), explicit development
mode and a secret key that is never a public one (finding 12), friendly error pages with
DEBUG off, and the favicon."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

import chatsite.urls
from tests.conftest import make_user

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


# A test-only URLconf (pytest.mark.urls): the site's pages plus a forbidden and a broken one.
def forbidden(request):
    raise PermissionDenied


def broken(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [
    path("test-only/forbidden/", forbidden),
    path("test-only/broken/", broken),
    *chatsite.urls.urlpatterns,
]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [d.strip().split() for d in header.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


# --- finding 11: Content-Security-Policy ------------------------------------------------


def test_every_page_has_the_strict_policy():
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    for url in ("/", "/chat/lobby/", "/admin/login/"):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        csp = policy(response)
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["style-src"] == ["'self'"]
        assert csp["img-src"] == ["'self'", "data:"]
        assert csp["connect-src"][0] == "'self'"
        assert all(re.fullmatch(r"wss?://[\w.*-]+:\*", s) for s in csp["connect-src"][1:])
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["base-uri"] == ["'self'"]
        assert csp["form-action"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
    assert policy(Client().get("/accounts/login/"))["script-src"] == ["'self'"]


def test_the_only_inline_scripts_are_json_data_blocks():
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    for url in ("/", "/chat/lobby/", "/accounts/signup/"):
        page = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", page):
            # Our own files: static scripts and the translation catalog (JavaScriptCatalog).
            ours = ('src="/static/', 'src="/jsi18n/"', 'type="application/json"')
            assert any(mark in tag for mark in ours), (url, tag)
        assert not re.search(r"\son\w+=", page), url  # no inline event handlers
        assert "style=" not in page, url


def test_socket_sources_follow_allowed_hosts():
    from chatsite.settings import socket_sources

    assert socket_sources(["chat.example.com", ".example.org", "[::1]", "*"], https=True) == [
        "wss://chat.example.com:*",
        "wss://example.org:*",
        "wss://*.example.org:*",
    ]
    assert socket_sources(["localhost"], https=False) == ["ws://localhost:*", "wss://localhost:*"]


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


# --- friendly error pages (DEBUG off, as the test client runs) --------------------------


def assert_friendly(response, status: int, words: str) -> None:
    page = response.content.decode()
    assert response.status_code == status
    assert 'class="site-header"' in page, page[:500]  # the site's layout
    assert words in page
    for technical in ("Traceback", "Using the URLconf", "URLconf defined", "Request Method"):
        assert technical not in page


def test_missing_page_is_the_friendly_404():
    assert_friendly(Client().get("/no/such/page/"), 404, "Page not found")


@pytest.mark.urls("tests.test_http_security")
def test_forbidden_page_is_the_friendly_403():
    assert_friendly(Client().get("/test-only/forbidden/"), 403, "not allowed")


@pytest.mark.urls("tests.test_http_security")
def test_a_view_raising_gives_the_friendly_500():
    response = Client(raise_request_exception=False).get("/test-only/broken/")
    assert_friendly(response, 500, "Something went wrong")
    assert "a bug in a view" not in response.content.decode()


def test_csrf_failure_is_the_friendly_403():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "a", "password": "b"})
    assert_friendly(response, 403, "could not be sent")
    assert "CSRF verification failed" not in response.content.decode()


# --- favicon ----------------------------------------------------------------------------


def test_favicon_is_linked_and_answered():
    page = Client().get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    svg = (ROOT / "static" / "favicon.svg").read_text()
    assert svg.startswith("<svg") and "#2f6fde" in svg  # the site's accent colour


# --- the same through a real daphne process started without DEBUG ---------------------


@pytest.mark.e2e
def test_live_server_without_debug_has_friendly_errors_and_favicon(live_env, live_server_factory):
    env = {k: v for k, v in live_env.items() if k != "DEBUG"}  # DEBUG unset: off
    server = live_server_factory(env)

    def fetch(url: str, data: bytes | None = None):
        try:
            with urllib.request.urlopen(server.url + url, data=data, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    status, _, page = fetch("/no/such/page/")
    assert status == 404 and "Page not found" in page and 'class="site-header"' in page
    assert "Using the URLconf" not in page
    status, _, page = fetch("/accounts/login/", data=b"username=a&password=b")
    assert status == 403 and "could not be sent" in page and 'class="site-header"' in page
    status, headers, body = fetch("/favicon.ico")  # urllib follows the redirect
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert body.startswith("<svg")
