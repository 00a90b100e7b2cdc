"""Retention: a room's messages older than its retention period are purged, oldest first,
in batches (docs/search.md, "Retention").

A purge removes a prefix of the room's log: every message with seq <= Room.purged_upto is
gone, every one above it is kept. Seqs are never reused or renumbered (the next post still
takes last_seq + 1), so a client resuming from below the purged range gets the first kept
message, and `has_more: false` (chat.selectors.welcome). Each room's purge is one audit
log entry. The messages' reactions, previous versions, reports and mentions go with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import permissions
from ..errors import BadRequest, Forbidden
from ..models import AuditLog, Mention, Message, ReadMarker, Room
from .base import service

log = logging.getLogger("chat")

BATCH = 5000


@dataclass(frozen=True)
class Purge:
    room: Room
    days: int
    upto: int  # the last seq purged (or, on a dry run, that would be)
    count: int  # messages purged (or that would be)


def retention_days(room: Room, default: int | None) -> int | None:
    """How long `room` keeps messages: its own setting, else `default` (the command's
    --days, else CHAT_RETENTION_DAYS); None or 0: forever."""
    days = room.retention_days if room.retention_days is not None else default
    return days or None


def expired_upto(room: Room, cutoff: datetime) -> int:
    """The highest seq such that it and every message below it is older than `cutoff`."""
    newer = (
        Message.objects.filter(room_id=room.pk, seq__gt=room.purged_upto, created_at__gte=cutoff)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    return (newer - 1) if newer is not None else room.last_seq


def plan(default_days: int | None = None) -> list[Purge]:
    """What a purge would remove now, room by room (rooms with nothing to remove left out)."""
    if default_days is None:
        default_days = settings.CHAT_RETENTION_DAYS
    now, found = timezone.now(), []
    for room in Room.objects.order_by("pk"):
        days = retention_days(room, default_days)
        if days is None:
            continue
        upto = expired_upto(room, now - timedelta(days=days))
        if upto > room.purged_upto:
            count = Message.objects.filter(
                room_id=room.pk, seq__gt=room.purged_upto, seq__lte=upto
            ).count()
            found.append(Purge(room, days, upto, count))
    return found


@service
def purge(
    *, planned: Purge, batch: int = BATCH, progress: Callable[[int], None] | None = None
) -> Purge:
    """Remove `planned`'s messages, `batch` seqs per transaction, then record it."""
    room, done = planned.room, 0
    start = Room.objects.filter(pk=room.pk).values_list("purged_upto", flat=True).get()
    while start < planned.upto:
        end = min(start + batch, planned.upto)
        removed = _purge_range(room, start, end)
        done += removed
        start = end
        if progress is not None:
            progress(removed)
    AuditLog.objects.create(
        action="purge",
        room=room,
        message_seq=planned.upto,
        reason=f"retention: {planned.days} days",
        detail=f"{done} messages, seq {planned.upto} and below",
    )
    log.info("purge room=%s upto=%d messages=%d", room.slug, planned.upto, done)
    return Purge(room, planned.days, planned.upto, done)


def _purge_range(room: Room, after: int, upto: int) -> int:
    """One batch: messages after < seq <= upto, in one transaction under the room's lock."""
    with transaction.atomic():
        Room.objects.select_for_update().filter(pk=room.pk).values_list("pk").get()
        doomed = Message.objects.filter(room_id=room.pk, seq__gt=after, seq__lte=upto)
        deleted = doomed.filter(deleted_at__isnull=False).count()
        mentioned = list(
            Mention.objects.filter(room_id=room.pk, seq__gt=after, seq__lte=upto)
            .values_list("user_id", flat=True)
            .distinct()
        )
        Mention.objects.filter(room_id=room.pk, seq__gt=after, seq__lte=upto).delete()
        count = doomed.count()
        doomed.delete()
        Room.objects.filter(pk=room.pk).update(
            purged_upto=upto, deleted_count=F("deleted_count") - deleted
        )
        for marker in ReadMarker.objects.filter(room_id=room.pk, user_id__in=mentioned):
            marker.mentions = Mention.objects.filter(
                room_id=room.pk, user_id=marker.user_id, seq__gt=marker.last_read
            ).count()
            marker.save(update_fields=["mentions"])
    return count


@service
def set_retention(*, room: Room, actor: AbstractBaseUser, days: int | None) -> Room:
    """Set how long `room` keeps messages (None: the site's default; 0: forever). Staff
    alone: it is an operator's promise, not a moderator's."""
    if permissions.rank(room, actor) < permissions.STAFF:
        raise Forbidden("Only staff set how long a room keeps its messages.")
    if days is not None and days < 0:
        raise BadRequest("Retention is a number of days, 0 or more.")
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(retention_days=days)
        room.retention_days = days
        shown = (
            "the site's default" if days is None else ("forever" if days == 0 else f"{days} days")
        )
        AuditLog.objects.create(actor=actor, action="retention", room=room, detail=f"keep {shown}")
    return room
