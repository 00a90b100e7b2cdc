"""Typing: ephemeral, so it is published and never stored (presence lives in
chat/presence.py and chat/fanout.py: it follows the sockets, not a service call)."""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .. import fanout, presence, protocol
from ..models import Room
from .messages import post_refusal

log = logging.getLogger("chat")


async def announce_typing(*, room: Room, user: AbstractBaseUser) -> bool:
    """Tell the others in `room` that `user` is typing: at most once per
    CHAT_TYPING_INTERVAL_SECONDS per user and room (the rest are dropped quietly, as the
    protocol says), and never for a user who may not post there now (muted, banned).
    Returns whether it was broadcast."""
    try:
        if not await presence.get_store().may_type(room.slug, user.pk):
            return False
    except Exception:
        log.warning("typing brake failed for room %s; dropping the frame", room.slug)
        return False
    if not await database_sync_to_async(_may_post)(room, user):
        return False
    text = protocol.typing_frame(user.get_username())
    await fanout.publish([fanout.room_event(room.slug, text, skip_user=user.pk)])
    return True


def _may_post(room: Room, user: AbstractBaseUser) -> bool:
    """The post path's own rule (banned, muted, not a member, a locked room), as it stands
    now; slow mode does not stop anyone from typing."""
    locked = Room.objects.filter(pk=room.pk).values_list("locked", flat=True).first()
    if locked is None:
        return False  # the room is gone
    refusal, _ = post_refusal(room, user, timezone.now(), locked=locked, slow_mode=0)
    return refusal is None
