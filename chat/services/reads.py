"""Read markers: where each user stopped reading each room, and the counts derived from them
(chat.models.ReadMarker explains the arithmetic; docs/protocol.md, "Read markers").

The write path keeps a marker's `skip` (messages above it that are not unread) exact, so
no count ever scans a room's history: a post adds to its author's, a deletion to each
reader below it, a read recounts only what lies above the new marker.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q

from .. import fanout, protocol
from ..errors import BadRequest
from ..models import Message, ReadMarker, Room
from . import mentions
from .base import emit, service


@service
def mark_read(*, room: Room, user: AbstractBaseUser, seq: int) -> ReadMarker:
    """The user has read `room` up to `seq`. The marker only rises (a lower seq changes
    nothing and tells no one); a rise reaches every socket of the user as an `unread`
    frame. A seq above the room's last is refused (bad_request)."""
    with transaction.atomic():
        last_seq = Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True).first()
        if last_seq is None or seq > last_seq:
            raise BadRequest(
                f"There is no message {seq} in this room yet (its last is {last_seq or 0}).",
                seq=seq,
            )
        marker = _locked_marker(room, user)
        if seq <= marker.last_read:
            return marker
        marker.last_read = seq
        marker.skip = _not_unread_above(room, user, seq) if seq < last_seq else 0
        marker.mentions = mentions.mentions_above(room, user, seq) if seq < last_seq else 0
        marker.save(update_fields=["last_read", "skip", "mentions"])
        counts = protocol.Counts(
            last_seq, marker.last_read, marker.unread(last_seq), marker.mentions
        )
        emit(fanout.unread_event(user.pk, room.slug, counts))
    return marker


def _locked_marker(room: Room, user: AbstractBaseUser) -> ReadMarker:
    """The user's marker of `room`, locked for this transaction; made when missing (a user
    without one has posted nothing there, so only deletions are skipped)."""
    marker = ReadMarker.objects.select_for_update().filter(room_id=room.pk, user_id=user.pk).first()
    if marker is None:
        deleted = Room.objects.filter(pk=room.pk).values_list("deleted_count", flat=True).get()
        marker, _ = ReadMarker.objects.get_or_create(
            room_id=room.pk, user_id=user.pk, defaults={"skip": deleted}
        )
    return marker


def _not_unread_above(room: Room, user: AbstractBaseUser, seq: int) -> int:
    """How many messages above `seq` are the user's own or deleted: a keyset range of what
    is still unread, not the room's history."""
    return (
        Message.objects.filter(room_id=room.pk, seq__gt=seq)
        .filter(Q(author_id=user.pk) | Q(deleted_at__isnull=False))
        .count()
    )


def count_own_posts(room: Room, user: AbstractBaseUser, count: int) -> None:
    """In a post's transaction: the author's `count` new messages are not unread to them."""
    mine = ReadMarker.objects.filter(room_id=room.pk, user_id=user.pk)
    if mine.update(skip=F("skip") + count):
        return
    deleted = Room.objects.filter(pk=room.pk).values_list("deleted_count", flat=True).get()
    # get_or_create: a read on another socket may make the row in between (it skipped
    # only deletions then: these posts were not stored yet).
    _, created = ReadMarker.objects.get_or_create(
        room_id=room.pk, user_id=user.pk, defaults={"skip": deleted + count}
    )
    if not created:
        mine.update(skip=F("skip") + count)


def count_deletion(room: Room, message: Message) -> None:
    """In a deletion's transaction: the message no longer counts as unread for anyone who
    had not read it (its author skipped it already, as their own)."""
    Room.objects.filter(pk=room.pk).update(deleted_count=F("deleted_count") + 1)
    ReadMarker.objects.filter(room_id=room.pk, last_read__lt=message.seq).exclude(
        user_id=message.author_id
    ).update(skip=F("skip") + 1)
