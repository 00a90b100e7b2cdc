"""@mentions: who a body names, their mention counts, their notifications.

A mention counts for its user until they read past it (ReadMarker.mentions, kept exact by
the write path like `skip`): a post or an edit that adds one raises it, a deletion or an
edit that drops one lowers it, a read recounts the Mention rows above the new marker.
Mentioning oneself highlights the name and counts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.db.models.functions import Lower

from .. import fanout, protocol
from ..models import Membership, Mention, Message, ReadMarker, Room
from .base import emit

# Who an @name names in a public room (anyone active), remembered per process for this
# long: a burst of posts mentioning the same people asks the database once, not per post.
# Private rooms ask every time: their membership is the access rule.
NAMES_TTL = 10.0
NAMES_MAX = 10_000
_names: dict[str, tuple[float, str | None, int]] = {}  # lname -> (until, username, id)


class Lookup:
    """chat.formatting's `resolve` for one room: lowercased @names to the usernames of the
    active users who can see the room (chat.permissions.can_see as one query), and their
    ids for the counts."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.ids: dict[str, int] = {}

    def __call__(self, names: Iterable[str]) -> dict[str, str]:
        names = list(names)
        if self.room.private:
            return self._found(self._query(names))
        now = time.monotonic()
        cached = {n: _names[n] for n in names if n in _names and _names[n][0] > now}
        missing = [n for n in names if n not in cached]
        if missing:
            rows = self._query(missing)
            if len(_names) > NAMES_MAX:
                _names.clear()
            known = {lname: (username, pk) for pk, username, lname in rows}
            for lname in missing:
                username, pk = known.get(lname, (None, 0))
                cached[lname] = _names[lname] = (now + NAMES_TTL, username, pk)
        rows = [(pk, username, n) for n, (_, username, pk) in cached.items() if username]
        return self._found(rows)

    def _query(self, names: list[str]) -> list[tuple[int, str, str]]:
        users = get_user_model().objects.annotate(lname=Lower("username"))
        users = users.filter(lname__in=names, is_active=True)
        if self.room.private:
            joined = Membership.objects.filter(room_id=self.room.pk, joined_at__isnull=False)
            users = users.filter(pk__in=joined.values("user_id"))
        found: dict[str, tuple[int, str, str]] = {}
        for pk, username, lname in users.order_by("pk").values_list("pk", "username", "lname"):
            found.setdefault(lname, (pk, username, lname))  # "Bob" and "bob": the older
        return list(found.values())

    def _found(self, rows: list[tuple[int, str, str]]) -> dict[str, str]:
        for pk, username, _ in rows:
            self.ids[username] = pk
        return {lname: username for _, username, lname in rows}

    def users(self, usernames: Iterable[str], author_id: int) -> list[int]:
        """The ids of the users named (but the author)."""
        ids = {self.ids[n] for n in usernames if n in self.ids}
        return sorted(ids - {author_id})


def _active(user_ids: set[int]) -> set[int]:
    """Of `user_ids`, those of accounts that exist and are active now: a remembered name
    may be of an account deactivated or deleted since."""
    if not user_ids:
        return set()
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True)
    return set(users.values_list("pk", flat=True))


def forget_names() -> None:
    """Drop the remembered names (tests; a process that must see a new account at once)."""
    _names.clear()


def count_posted(room: Room, messages: Iterable[Message], lookup: Lookup) -> dict[int, list[int]]:
    """In a post's transaction: record the mentions of the new messages and raise each
    mentioned user's count. Returns {seq: mentioned user ids} for the notifications."""
    named = {m.seq: lookup.users(m.mentions, m.author_id) for m in messages if m.mentions}
    active = _active(set().union(*named.values())) if named else set()
    mentioned = {seq: [u for u in ids if u in active] for seq, ids in named.items()}
    for seq, user_ids in mentioned.items():
        _add(room, seq, user_ids)
    return {seq: ids for seq, ids in mentioned.items() if ids}


def count_edited(room: Room, message: Message, lookup: Lookup) -> list[int]:
    """In an edit's transaction: the mentions the edit added and dropped. Returns the ids
    of the users newly mentioned (to notify)."""
    now = _active(set(lookup.users(message.mentions, message.author_id)))
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
