"""Typing: ephemeral, so it is published and never stored (presence lives in
chat/presence.py and chat/fanout.py: it follows the sockets, not a service call)."""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .. import fanout, permissions, presence, protocol
from ..models import Room

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
    member = permissions.membership(room, user)
    now = timezone.now()
    if permissions.is_banned(room, user, now, member):
        return False
    if member is not None and member.is_muted(now):
        return False
    locked = Room.objects.filter(pk=room.pk).values_list("locked", flat=True).first()
    return not locked or permissions.can_moderate(room, user, member)
