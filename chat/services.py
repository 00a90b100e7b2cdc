"""Every state change of the chat, and nothing else writes or publishes.

A service writes the database in one transaction and returns the events to publish; the
`@service` wrapper publishes them to the room's group only after the commit (the database
is the log, the channel layer only a hint). Call a service from sync code (views, admin,
shell) as `post_message(...)` and from async code (consumers) as
`await post_message.acall(...)`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import fanout, protocol
from .errors import ChatError
from .models import Message, Room

log = logging.getLogger("chat")

P = ParamSpec("P")
R = TypeVar("R")
Events = list[fanout.Event]


class Service(Generic[P, R]):
    """Wraps `fn(...) -> (result, events)`: run it, then publish its events after commit."""

    def __init__(self, fn: Callable[P, tuple[R, Events]]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = self.fn(*args, **kwargs)
        if events:
            # on_commit runs at once outside a transaction, and waits for the caller's
            # commit inside one (the admin wraps some views in atomic blocks).
            transaction.on_commit(lambda: async_to_sync(fanout.publish)(events))
        return result

    async def acall(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = await database_sync_to_async(self.fn)(*args, **kwargs)
        if events:
            await fanout.publish(events)
        return result


def service(fn: Callable[P, tuple[R, Events]]) -> Service[P, R]:
    return Service(fn)


# --- rooms ------------------------------------------------------------------------------


def _title_for(slug: str) -> str:
    return slug.replace("-", " ").replace("_", " ").strip().title() or slug


@service
def create_room(*, slug: str, user: AbstractBaseUser, title: str = "") -> tuple[Room, Events]:
    """Create the room `slug` (or return it if it exists). Raises ChatError for a bad slug."""
    clean = protocol.normalize_slug(slug)
    if clean is None:
        raise ChatError(
            "bad_request",
            "A room name is 1 to 50 letters, digits, hyphens or underscores.",
        )
    room, created = Room.objects.get_or_create(
        slug=clean, defaults={"title": title.strip() or _title_for(clean), "created_by": user}
    )
    if created:
        log.info("room created room=%s user=%s", room.slug, user.get_username())
    return room, []


@service
def open_room(*, slug: str, user: AbstractBaseUser) -> tuple[Room | None, Events]:
    """The room a user may join at the handshake: created on first visit when
    CHAT_AUTO_CREATE_ROOMS is on; None when it does not exist and may not be created."""
    room = Room.objects.filter(slug=slug).first()
    if room is None and settings.CHAT_AUTO_CREATE_ROOMS:
        room = create_room.fn(slug=slug, user=user)[0]
    return room, []


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    message: Message
    created: bool  # False: a resend of a known client_id, nothing stored
    frame: str  # the ready `message` frame


def clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ChatError("empty", "A message cannot be empty.")
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > limit:
        raise ChatError("too_long", f"A message may be at most {limit} characters.")
    return body


@service
def post_message(
    *, room: Room, user: AbstractBaseUser, body: str, client_id: str | None = None
) -> tuple[PostResult, Events]:
    """Store a message with the room's next seq, then broadcast it.

    The room row is locked for the transaction (SQLite: BEGIN IMMEDIATE locks the whole
    database), so seqs are gapless and follow commit order. A resend with a client_id that
    is already stored returns the stored message and stores nothing.
    """
    body = clean_body(body)
    try:
        with transaction.atomic():
            last_seq = (
                Room.objects.select_for_update().values_list("last_seq", flat=True).get(pk=room.pk)
            )
            if client_id is not None:
                existing = _find_resend(room, user, client_id)
                if existing is not None:
                    return _result(existing, created=False), []
            now = timezone.now()
            message = Message.objects.create(
                room=room, seq=last_seq + 1, author=user, body=body, client_id=client_id
            )
            Room.objects.filter(pk=room.pk).update(last_seq=message.seq, last_activity=now)
    except IntegrityError:
        # Only the client_id constraint can race here; the stored one wins.
        existing = _find_resend(room, user, client_id) if client_id is not None else None
        if existing is None:
            raise
        return _result(existing, created=False), []
    room.last_seq = message.seq
    result = _result(message, created=True)
    log.info("post room=%s user=%s seq=%d", room.slug, user.get_username(), message.seq)
    log.debug("post body room=%s seq=%d body=%r", room.slug, message.seq, body)
    return result, [fanout.message_event(room.slug, message.seq, result.frame)]


def _find_resend(room: Room, user: AbstractBaseUser, client_id: str) -> Message | None:
    return (
        Message.objects.filter(room=room, author=user, client_id=client_id)
        .select_related("author")
        .first()
    )


def _result(message: Message, *, created: bool) -> PostResult:
    return PostResult(message=message, created=created, frame=protocol.message_frame(message))
