"""Accounts: what happens to a user's open sockets when their account changes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import fanout, permissions
from ..errors import CloseCode
from .base import emit, service
from .moderation import _audit, _forbidden


@service
def disconnect_user(*, user: AbstractBaseUser) -> None:
    """Close all of a user's sockets, in every room on every process (logout, deactivation)."""
    emit(fanout.close_event(code=CloseCode.REMOVED, user_id=user.pk))


@service
def deactivate_user(*, actor: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> None:
    """Deactivate an account (staff only): it can no longer log in, and its sockets close."""
    allowed = permissions.is_staff(actor) and user.pk != actor.pk
    if not allowed or (user.is_superuser and not actor.is_superuser):
        raise _forbidden("You may not deactivate this user.")
    with transaction.atomic():
        # update(), not save(): the post_save hook would publish the close a second time.
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        _audit(actor, "deactivate", None, target=user, reason=reason)
    user.is_active = False
    emit(fanout.close_event(code=CloseCode.REMOVED, user_id=user.pk))
