"""Reactions: any user who may post toggles an emoji on a message; the room sees the
message's reactions as they are now."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import fanout, protocol, ratelimit
from ..errors import BadRequest
from ..models import Message, Reaction, Room
from .base import emit, service
from .messages import check_may_post, locked_message

log = logging.getLogger("chat")


@service
def toggle_reaction(
    *, room: Room, user: AbstractBaseUser, seq: int, emoji: str, rate_limit: bool = False
) -> tuple[Message, bool]:
    """Turn the user's `emoji` on message `seq` on, or off if it was on. Returns the
    message and whether it is on now. At most protocol.REACTIONS_MAX distinct emoji per
    message. `emoji` must be one (chat.protocol.is_one_emoji: the parser checks it)."""
    if not protocol.is_one_emoji(emoji):
        raise BadRequest('"emoji" must be one emoji.')
    if rate_limit:
        ratelimit.take_post(user.pk)
    with transaction.atomic():
        now = timezone.now()
        message = locked_message(room, seq)
        if message.deleted_at is not None:
            raise BadRequest("This message was deleted; it cannot be reacted to.")
        check_may_post(room, user, now)
        mine = Reaction.objects.filter(message=message, user_id=user.pk, emoji=emoji)
        on = not mine.delete()[0]
        if on:
            used = {r["emoji"] for r in message.reactions}
            if emoji not in used and len(used) >= protocol.REACTIONS_MAX:
                raise BadRequest(
                    f"A message can have at most {protocol.REACTIONS_MAX} different reactions."
                )
            Reaction.objects.create(message=message, user_id=user.pk, emoji=emoji)
        message.reactions = _reactions(message)
        message.changed_at = now
        message.save(update_fields=["reactions", "changed_at"])
    log.info("react room=%s user=%s seq=%d on=%s", room.slug, user.get_username(), seq, on)
    emit(fanout.room_event(room.slug, protocol.reactions_frame(seq, message.reactions)))
    return message, on


def _reactions(message: Message) -> list[dict[str, object]]:
    """The wire's view of the message's Reaction rows: emoji in the order first used (of
    those still there), users in the order they reacted."""
    grouped: dict[str, list[str]] = {}
    rows = Reaction.objects.filter(message=message).order_by("id")
    for emoji, username in rows.values_list("emoji", "user__username"):
        grouped.setdefault(emoji, []).append(username)
    return [{"emoji": emoji, "users": users} for emoji, users in grouped.items()]
