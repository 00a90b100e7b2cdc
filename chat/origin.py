"""The WebSocket handshake's Origin check (cross-site WebSocket hijacking).

A browser sends the page's origin (scheme, host, port) with every WebSocket handshake, and
the session cookie with it whatever page opened the socket. Channels'
AllowedHostsOriginValidator compares the Origin's host with ALLOWED_HOSTS only, so a page on
another port or scheme of the same host (`http://127.0.0.1:19090` for a site on `:19080`)
could open sockets as the logged-in user. Here the whole origin must match:

- CHAT_ALLOWED_ORIGINS, when set: a list of full origins (`https://chat.example.com`);
- else the site's own origin: the scheme HTTPS implies (`https` with HTTPS=1, else `http`)
  and the handshake's own Host header (which must be in ALLOWED_HOSTS), default ports
  filled in, so `http://localhost:8000` matches a handshake to `localhost:8000` only.

A missing or malformed Origin is refused (HTTP 403), as before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
Origin = tuple[str, str, int]  # scheme, host (lowercase), port


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an origin, default ports filled in; None when malformed."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def allowed_origins(host_header: str | None) -> set[Origin]:
    """The origins a handshake that came with `host_header` may come from."""
    configured = getattr(settings, "CHAT_ALLOWED_ORIGINS", [])
    if configured:
        return {origin for value in configured if (origin := parse_origin(value)) is not None}
    if not host_header:
        return set()
    domain, _ = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return set()
    scheme = "https" if getattr(settings, "HTTPS", False) else "http"
    own = parse_origin(f"{scheme}://{host_header}")
    return {own} if own is not None else set()


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin1")
    return None


class OriginValidator:
    """ASGI middleware: refuse a WebSocket handshake whose Origin is not the site's own."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if _header(scope, b"authorization") is not None:
            # A script's handshake with an API token (chatsite.auth): no browser can send
            # that header on a WebSocket, so no other site can make one ride on a visitor's
            # cookie; the token alone authenticates it.
            return await self.application(scope, receive, send)
        origin = _header(scope, b"origin")
        parsed = parse_origin(origin) if origin is not None else None
        if parsed is not None and parsed in allowed_origins(_header(scope, b"host")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
