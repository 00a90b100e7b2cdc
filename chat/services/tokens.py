"""API tokens and bots: personal tokens for scripts, bots and terminal clients (the
WebSocket handshake's `Authorization: Bearer <token>`), and the bot flag.

A token is 32 random bytes (urlsafe base64, behind a "chat_" marker): a guess is hopeless, so
a plain SHA-256 of it is all that is stored, and a lookup is one indexed query. A password
needs a slow hash because people choose guessable ones; a token is not chosen. It is shown
once, when it is made.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import permissions
from ..errors import BadRequest, Forbidden
from ..models import ApiToken, Profile
from .base import service

log = logging.getLogger("chat")

MARK = "chat_"
NAME_MAX = 100
# last_used_at is written at most this often per token (not on every request).
TOUCH_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@service
def create_api_token(
    *, user: AbstractBaseUser, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself (never stored: show it once)."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise BadRequest(f"A token needs a name of 1 to {NAME_MAX} characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("A token's expiry must be in the future.")
    token = MARK + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=token[len(MARK) : len(MARK) + 8],
        digest=digest(token),
        expires_at=expires_at,
    )
    log.info("api token created user=%s id=%d", user.get_username(), row.pk)
    return row, token


@service
def revoke_api_token(*, actor: AbstractBaseUser, token: ApiToken) -> ApiToken:
    """The token stops working: refused at the next handshake or request, and the sockets
    it opened close (4403) within CHAT_FANOUT_REFRESH_SECONDS (chat/sessions.py)."""
    if token.user_id != actor.pk and not permissions.is_staff(actor):
        raise Forbidden("You can only revoke your own tokens.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    log.info("api token revoked id=%d by=%s", token.pk, actor.get_username())
    return token


def user_for(token: str) -> tuple[AbstractBaseUser, ApiToken] | None:
    """The active user a valid token authenticates, and the token; None for a missing,
    malformed, unknown, revoked or expired token, or a deactivated user (indistinguishable
    to the caller, on purpose)."""
    if not token.startswith(MARK) or len(token) > 200:
        return None
    row = ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
    now = timezone.now()
    if row is None or not row.is_valid(now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row.user, row


@service
def set_bot(*, username: str, bot: bool = True) -> Profile:
    """Flag (or unflag) an account as a bot: a badge; every rule still applies to it."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise BadRequest(f"There is no user {username[:40]!r}.")
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"bot": bot})
    return profile
