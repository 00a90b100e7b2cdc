"""Whether the sessions behind open sockets still log their users in.

A socket is authenticated once, at the handshake. Logging out and deactivation close a
user's sockets at once (chat.signals), but a session can also end without either: a password
change (Django then refuses the old sessions: their auth hash no longer matches), a session
deleted on the server (the admin, `clearsessions`, a "log out everywhere"), or expiry. Each
server process asks this module about its own sockets every CHAT_FANOUT_REFRESH_SECONDS
(chat/fanout.py), so such a socket closes with 4403 within that time on every process.

It costs two small queries per interval whatever the number of sockets: the sessions that
still exist, and the users' password hashes compared with the ones seen at the handshake.
Only a user whose password changed has sessions decoded, to keep the one session that
changed it (Django's update_session_auth_hash) open, as Django keeps it logged in.

A socket opened with an API token (chatsite.auth) has the key "token:<id>" instead, and
closes the same way when its token is revoked or expires, or its user is deactivated.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .models import ApiToken

Entry = tuple[str, int, int]  # (session key, user id, hash() of the password at the handshake)
CHUNK = 500  # keys per IN (...): under every database's limit on query parameters


def check(entries: Iterable[Entry]) -> dict[str, int | None]:
    """For the sessions that changed: None when the session no longer logs its user in, or
    the marker of the user's new password when the session was updated to it (keep it)."""
    entries = [e for e in set(entries) if e[0]]
    if not entries:
        return {}
    # A socket opened with an API token is keyed "token:<id>": it lasts while the token does.
    tokens = [e for e in entries if e[0].startswith(TOKEN_KEY)]
    entries = [e for e in entries if not e[0].startswith(TOKEN_KEY)]
    changes: dict[str, int | None] = dict.fromkeys(_ended_tokens(tokens))
    if not entries:
        return changes
    alive = _existing({key for key, _, _ in entries})
    users = _users({user_id for _, user_id, _ in entries})
    for key, user_id, marker in entries:
        user = users.get(user_id)
        if key not in alive or user is None or not user.is_active:
            changes[key] = None
        elif hash(user.password) != marker:
            changes[key] = hash(user.password) if _still_valid(key, user) else None
    return changes


TOKEN_KEY = "token:"


def _ended_tokens(entries: list[Entry]) -> list[str]:
    """The keys of the token sockets whose token was revoked or expired, or whose user was
    deactivated."""
    if not entries:
        return []
    ids = {int(key[len(TOKEN_KEY) :]) for key, _, _ in entries}
    now = timezone.now()
    rows = (
        ApiToken.objects.filter(pk__in=ids)
        .select_related("user")
        .only("revoked_at", "expires_at", "user__is_active")
    )
    valid = {row.pk for row in rows if row.is_valid(now) and row.user.is_active}
    return [f"{TOKEN_KEY}{pk}" for pk in ids - valid]


def _existing(keys: set[str]) -> set[str]:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = getattr(store, "get_model_class", None)
    if model is None:  # a cache or cookie engine: ask for each session
        return {key for key in keys if store().exists(key)}
    found: set[str] = set()
    ordered = sorted(keys)
    for i in range(0, len(ordered), CHUNK):
        found.update(
            model()
            .objects.filter(session_key__in=ordered[i : i + CHUNK], expire_date__gt=timezone.now())
            .values_list("session_key", flat=True)
        )
    return found


def _users(ids: set[int]) -> dict[int, object]:
    ordered = sorted(ids)
    users = {}
    for i in range(0, len(ordered), CHUNK):
        for user in (
            get_user_model()
            .objects.filter(pk__in=ordered[i : i + CHUNK])
            .only("password", "is_active")
        ):
            users[user.pk] = user
    return users


def _still_valid(key: str, user: object) -> bool:
    """Django's own test (django.contrib.auth.get_user): the session's auth hash matches the
    user's current one."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    stored = session.get(HASH_SESSION_KEY) or ""
    return bool(stored) and constant_time_compare(stored, user.get_session_auth_hash())
