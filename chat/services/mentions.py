"""@mentions: who a body names, their mention counts, their notifications.

A mention counts for its user until they read past it (ReadMarker.mentions, kept exact by
the write path like `skip`): a post or an edit that adds one raises it, a deletion or an
edit that drops one lowers it, a read recounts the Mention rows above the new marker.
Mentioning oneself highlights the name and counts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.db.models.functions import Lower

from .. import fanout, protocol
from ..models import Membership, Mention, Message, ReadMarker, Room
from .base import emit


class Lookup:
    """chat.formatting's `resolve` for one room: lowercased @names to the usernames of the
    active users who can see the room (chat.permissions.can_see as one query), and their
    ids for the counts."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.ids: dict[str, int] = {}

    def __call__(self, names: Iterable[str]) -> dict[str, str]:
        users = get_user_model().objects.annotate(lname=Lower("username"))
        users = users.filter(lname__in=list(names), is_active=True)
        if self.room.private:
            joined = Membership.objects.filter(room_id=self.room.pk, joined_at__isnull=False)
            users = users.filter(pk__in=joined.values("user_id"))
        found: dict[str, str] = {}
        for pk, username, lname in users.order_by("pk").values_list("pk", "username", "lname"):
            found.setdefault(lname, username)  # "Bob" and "bob": the older account
            self.ids[username] = pk
        return found

    def users(self, usernames: Iterable[str], author_id: int) -> list[int]:
        return [self.ids[n] for n in usernames if n in self.ids and self.ids[n] != author_id]


def count_posted(room: Room, messages: Iterable[Message], lookup: Lookup) -> dict[int, list[int]]:
    """In a post's transaction: record the mentions of the new messages and raise each
    mentioned user's count. Returns {seq: mentioned user ids} for the notifications."""
    mentioned = {m.seq: lookup.users(m.mentions, m.author_id) for m in messages if m.mentions}
    for seq, user_ids in mentioned.items():
        _add(room, seq, user_ids)
    return {seq: ids for seq, ids in mentioned.items() if ids}


def count_edited(room: Room, message: Message, lookup: Lookup) -> list[int]:
    """In an edit's transaction: the mentions the edit added and dropped. Returns the ids
    of the users newly mentioned (to notify)."""
    now = set(lookup.users(message.mentions, message.author_id))
    had = set(
        Mention.objects.filter(room_id=room.pk, seq=message.seq).values_list("user_id", flat=True)
    )
    _drop(room, message.seq, sorted(had - now))
    added = sorted(now - had)
    _add(room, message.seq, added)
    return added


def count_deleted(room: Room, seq: int) -> None:
    """In a deletion's transaction: a deleted message mentions nobody any more."""
    user_ids = list(
        Mention.objects.filter(room_id=room.pk, seq=seq).values_list("user_id", flat=True)
    )
    _drop(room, seq, user_ids)


def mentions_above(room: Room, user: AbstractBaseUser, seq: int) -> int:
    """How many messages above `seq` mention the user: the count of a new read marker."""
    return Mention.objects.filter(room_id=room.pk, user_id=user.pk, seq__gt=seq).count()


def notify(room: Room, message: Message, user_ids: Iterable[int]) -> None:
    """A `notification` of kind mention for each user (after the commit). A direct
    conversation's other side already gets one of kind dm for every message."""
    if room.is_dm:
        return
    frame = protocol.notification_frame("mention", room.slug, message)
    for user_id in user_ids:
        emit(fanout.user_event(user_id, frame))


def _add(room: Room, seq: int, user_ids: list[int]) -> None:
    if not user_ids:
        return
    Mention.objects.bulk_create(
        [Mention(room_id=room.pk, seq=seq, user_id=u) for u in user_ids], ignore_conflicts=True
    )
    markers = ReadMarker.objects.filter(room_id=room.pk, user_id__in=user_ids, last_read__lt=seq)
    markers.update(mentions=F("mentions") + 1)
    have = set(
        ReadMarker.objects.filter(room_id=room.pk, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    if len(have) < len(user_ids):
        # A user without a marker has read and posted nothing: only deletions were skipped.
        deleted = Room.objects.filter(pk=room.pk).values_list("deleted_count", flat=True).get()
        ReadMarker.objects.bulk_create(
            [
                ReadMarker(room_id=room.pk, user_id=u, skip=deleted, mentions=1)
                for u in user_ids
                if u not in have
            ],
            ignore_conflicts=True,
        )


def _drop(room: Room, seq: int, user_ids: list[int]) -> None:
    if not user_ids:
        return
    Mention.objects.filter(room_id=room.pk, seq=seq, user_id__in=user_ids).delete()
    ReadMarker.objects.filter(
        room_id=room.pk, user_id__in=user_ids, last_read__lt=seq, mentions__gt=0
    ).update(mentions=F("mentions") - 1)
