"""Users of tests and benchmarks: the one PASSWORD, users made through manage.py shell in a
server's environment, users made in-process (Django already set up, as under pytest-django),
and logging in through the site's login form over HTTP."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from tests.support.processes import manage

# Every test user's, typed into the sign-up form too: strong enough for Django's password
# validators (chatsite/settings.py AUTH_PASSWORD_VALIDATORS) with any of the tests' names.
PASSWORD = "s3cret-Passw0rd!"


def create_users(
    env: dict[str, str],
    *names: str,
    password: str = PASSWORD,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Users `names` with `password`, in the database of `env`, by one manage.py shell that
    hashes the password once (a hash costs ~0.3 s of CPU); `flags[name]` are more fields of
    that one (is_staff=True, ...)."""
    flags = flags or {}
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.hashers import make_password\n"
        f"U = get_user_model(); hashed = make_password({password!r})\n"
    )
    for name in names:
        extra = dict(flags.get(name, {}))
        code += f"U.objects.create(username={name!r}, password=hashed, **{extra!r})\n"
    manage(env, "shell", "-c", code)


def create_user(env: dict[str, str], username: str, password: str = PASSWORD, **flags: Any) -> None:
    create_users(env, username, password=password, flags={username: flags})


def make_user(username: str, password: str = PASSWORD, **extra: Any):
    """A user in this process's database (Django set up: under pytest-django)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=password, **extra)


def login(base_url: str, username: str, password: str = PASSWORD, timeout: float = 10) -> str:
    """Log in through the site's login form; return the Cookie header for WebSockets."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/accounts/login/", timeout=timeout).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/accounts/login/", data=form, headers={"Referer": f"{base_url}/accounts/login/"}
    )
    opener.open(request, timeout=timeout).read()
    cookies = {c.name: c.value for c in jar}
    if "sessionid" not in cookies:
        raise RuntimeError(f"login as {username} failed: no session cookie")
    return f"sessionid={cookies['sessionid']}"
