"""Session authentication for WebSockets: scope["user"] from the session cookie, as
Channels' AuthMiddlewareStack sets it, without what that stack holds per open socket.

Why not AuthMiddlewareStack: it is three middlewares (cookies, session, user), and each one
stays suspended above the consumer for as long as the socket is open, holding its own copy
of the scope (~1.2 KiB each, four in all), the cookie dict and the session store with its
decoded data. Chat sockets stay open for hours, idle; that was ~4 KiB of the ~35 KiB each
one cost (docs/benchmarks.md, "Idle memory"). Here the session is read once, during the
handshake, and dropped; the scope gets one copy, with the user only (no "session" or
"cookies": nothing on the WebSocket path uses them).

The user is resolved by Channels' own `get_user`, so the checks are Django's: the session's
backend must be configured, and a session whose auth hash no longer matches (password
changed) is flushed and gives AnonymousUser.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http.cookie import parse_cookie


class SessionAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        # No local names the user: this frame stays on the stack for the socket's life. The
        # session key goes along so the fan-out can notice the session ending (chat/sessions.py).
        if bearer_token(scope) is not None:
            return await self.inner(dict(scope, **await token_auth(scope)), receive, send)
        return await self.inner(
            dict(scope, user=await session_user(scope), session_key=_session_key(scope)),
            receive,
            send,
        )


def bearer_token(scope: dict[str, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scripts, bots, terminal
    clients: docs/protocol.md "API tokens"), or None when there is no such header."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


async def token_auth(scope: dict[str, Any]) -> dict[str, Any]:
    """The user of the handshake's token (AnonymousUser for a bad one: the consumer then
    refuses it as any anonymous handshake, revealing nothing), and its session key for
    the fan-out's periodic check: "token:<id>". A cookie alongside is ignored."""
    from chat.services import tokens

    found = await database_sync_to_async(tokens.user_for)(bearer_token(scope) or "")
    if found is None:
        return {"user": AnonymousUser(), "session_key": ""}
    user, token = found
    return {"user": user, "session_key": f"token:{token.pk}"}


async def session_user(scope: dict[str, Any]) -> AbstractBaseUser | AnonymousUser:
    """The user whose session cookie came with the handshake, or AnonymousUser."""
    key = _session_key(scope)
    if not key:
        return AnonymousUser()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return await get_user({"session": store(key)})


def _session_key(scope: dict[str, Any]) -> str:
    return _cookies(scope).get(settings.SESSION_COOKIE_NAME, "")


def _cookies(scope: dict[str, Any]) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}
