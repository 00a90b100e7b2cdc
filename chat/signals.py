"""Account events that must reach open sockets: logging out or deactivating a user closes
all of their chat sockets (4403) on every process. The handlers only call services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save

from . import services


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Logout flushes only this session, but the user asked to leave: close every socket.
    if user is not None:
        services.disconnect_user(user=user)


def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # Any save of an inactive account (the admin's change form, the shell...) closes its
    # sockets; for an account with none open that is a no-op event.
    if not created and not instance.is_active:
        services.disconnect_user(user=instance)


def connect() -> None:
    user_logged_out.connect(on_logged_out, dispatch_uid="chat.on_logged_out")
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="chat.on_user_saved")
