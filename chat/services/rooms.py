"""Rooms: created on purpose (a title, a derived slug) or, in the tutorial's mode, by the
first handshake; and the rule for opening one."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from .. import fanout, permissions, protocol, ratelimit, selectors
from ..errors import (
    BadRequest,
    Unavailable,
)
from ..models import Membership, Room
from . import members
from .base import emit, service

log = logging.getLogger("chat")


def title_for(slug: str) -> str:
    """The title of a room made from its address (`my-room` -> `My Room`)."""
    return slug.replace("-", " ").replace("_", " ").strip().title() or slug


@service
def create_room(*, slug: str, user: AbstractBaseUser, title: str = "") -> Room:
    """Create the room `slug` (or return it if it exists). Raises ChatError for a bad slug."""
    clean = protocol.normalize_slug(slug)
    if clean is None:
        raise BadRequest(
            "A room name is 1 to 50 letters, digits, hyphens or underscores.",
        )
    room, created = Room.objects.get_or_create(
        slug=clean, defaults={"title": title.strip() or title_for(clean), "created_by": user}
    )
    if created:
        log.info("room created room=%s user=%s", room.slug, user.get_username())
        emit(fanout.rooms_changed_event())  # it appears in every open room list
    return room


TITLE_MAX = 100


def clean_title(title: str) -> str:
    """A room title: any script, 1 to TITLE_MAX characters, with at least one letter or
    digit (a title of only punctuation or symbols names nothing)."""
    title = " ".join(title.split())
    if not title:
        raise BadRequest(gettext("Give the room a title."))
    if len(title) > TITLE_MAX:
        raise BadRequest(
            gettext("A title may be at most %(max)d characters.") % {"max": TITLE_MAX},
        )
    if not protocol.storable(title) or not any(c.isalnum() for c in title):
        raise BadRequest(gettext("A title needs at least one letter or digit."))
    return title


def slug_for(title: str) -> str:
    """A free slug for a new room titled `title`: its ASCII slug (`Design Review` ->
    `design-review`), or `room` for a title with none (`設計レビュー`); when that is taken,
    the first free `-2` ... `-9`, then a random suffix (one query, however many rooms)."""
    base = slugify(title)[:40].strip("-_") or "room"
    candidates = [base, *(f"{base}-{n}" for n in range(2, 10))]
    taken = set(Room.objects.filter(slug__in=candidates).values_list("slug", flat=True))
    free = [slug for slug in candidates if slug not in taken]
    return free[0] if free else f"{base}-{secrets.token_hex(3)}"


@service
def new_room(*, user: AbstractBaseUser, title: str, private: bool = False) -> Room:
    """Create a room on purpose (the room list's form): the server derives a free slug from
    the title; a private room has its creator as its first member. Raises ChatError: a bad
    title, or rate_limited past CHAT_ROOM_CREATE_BURST rooms and then
    CHAT_ROOM_CREATE_PER_HOUR (staff are not limited)."""
    title = clean_title(title)
    if not permissions.is_staff(user):
        ratelimit.take_sync(
            f"rooms:{user.pk}",
            burst=settings.CHAT_ROOM_CREATE_BURST,
            per_second=settings.CHAT_ROOM_CREATE_PER_HOUR / 3600,
            detail=gettext("You have created many rooms lately; try again later."),
        )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                room = Room.objects.create(
                    slug=slug_for(title), title=title, created_by=user, private=private
                )
                if private:
                    Membership.objects.create(room=room, user=user, joined_at=timezone.now())
        except IntegrityError:
            continue  # another creation took that slug in between: derive the next one
        log.info("room created room=%s user=%s", room.slug, user.get_username())
        if private:
            members.lists_changed(user.pk)  # nobody else may know of it
        else:
            emit(fanout.rooms_changed_event())
        return room
    raise Unavailable(gettext("The room could not be created; please retry."))


@service
def open_room(*, slug: str, user: AbstractBaseUser) -> Room | None:
    """The room a user may join at the handshake: created on first visit when
    CHAT_AUTO_CREATE_ROOMS is on; None when it does not exist and may not be created."""
    room = Room.objects.filter(slug=slug).first()
    if room is None and settings.CHAT_AUTO_CREATE_ROOMS:
        room = create_room(slug=slug, user=user)
    if room is not None and not selectors.may_enter(room, user):
        log.info("refused banned user room=%s user=%s", room.slug, user.get_username())
        return None
    return room
