"""Edits: an author replaces the body of their own message, within the edit window; the
previous version is kept (MessageEdit) and the room sees the message as it is now."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import fanout, formatting, protocol, ratelimit
from ..errors import Forbidden
from ..models import Message, MessageEdit, Room
from . import mentions
from .base import emit, service
from .messages import check_may_post, clean_body, locked_message

log = logging.getLogger("chat")


@service
def edit_message(
    *, room: Room, user: AbstractBaseUser, seq: int, body: str, rate_limit: bool = False
) -> Message:
    """Replace the body of message `seq` by its author: the same body rules as a post,
    within CHAT_EDIT_WINDOW_SECONDS, while the author may post. An unchanged body changes
    nothing. The room hears `message_edited`; a user the edit newly mentions, a
    `notification`. With `rate_limit` (sockets, the API) it takes a token of the user's
    post bucket."""
    body = clean_body(body)
    if rate_limit:
        ratelimit.take_post(user.pk)
    lookup = mentions.Lookup(room)
    rendered = formatting.render(body, lookup)  # outside the lock, as a post's
    with transaction.atomic():
        now = timezone.now()
        message = locked_message(room, seq)
        _check_editable(message, user, now)
        check_may_post(room, user, now)
        if message.body == body:
            return message
        MessageEdit.objects.create(
            message=message, body=message.body, written_at=message.edited_at or message.created_at
        )
        message.body, message.html, message.mentions = body, rendered.html, rendered.mentions
        message.edited_at = message.changed_at = now
        message.save(update_fields=["body", "html", "mentions", "edited_at", "changed_at"])
        added = mentions.count_edited(room, message, lookup)
    log.info("edit room=%s user=%s seq=%d", room.slug, user.get_username(), seq)
    emit(fanout.room_event(room.slug, protocol.message_edited_frame(message)))
    if added:
        emit(fanout.activity_event(room.slug))  # the newly mentioned users' counts
        mentions.notify(room, message, added)
    return message


def _check_editable(message: Message, user: AbstractBaseUser, now) -> None:
    if message.author_id != user.pk:
        raise Forbidden("You can only edit your own messages.")
    if message.deleted_at is not None:
        raise Forbidden("This message was deleted; it cannot be edited.")
    window = settings.CHAT_EDIT_WINDOW_SECONDS
    if window and now - message.created_at > timedelta(seconds=window):
        raise Forbidden(f"A message can be edited for {_duration(window)} after it was sent.")


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
