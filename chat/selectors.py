"""Reads. Message pages are keyset queries on the (room, seq) index: no OFFSET, so a page
costs the same at the end of a room of a million messages as of a thousand."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import permissions, protocol
from .models import Membership, Message, Profile, ReadMarker, Room
from .protocol import Counts

Page = tuple[list[Message], bool]  # messages oldest first, and whether more lie beyond


def get_room(slug: str) -> Room | None:
    return Room.objects.filter(slug=slug).first()


def may_enter(room: Room, user: AbstractBaseUser) -> bool:
    """Whether `user` may open `room`'s page and socket: they can see it (a private room:
    a member) and are not banned from it. The one rule the page, the handshake and every
    later reader ask; a private room refused here looks exactly like no room."""
    member = permissions.membership(room, user) if room.pk is not None else None
    return permissions.can_see(room, user, member) and not permissions.is_banned(
        room, user, timezone.now(), member
    )


def members(room: Room) -> list[str]:
    """A private room's members' usernames, sorted (the welcome's `members`)."""
    rows = room.memberships.filter(joined_at__isnull=False).values_list("user__username", flat=True)
    return sorted(rows)


def _messages(room: Room) -> QuerySet[Message]:
    return Message.objects.filter(room_id=room.pk).select_related("author")


def messages_before(room: Room, before: int | None, limit: int) -> Page:
    """The `limit` messages just below seq `before` (the latest when None), oldest first."""
    qs = _messages(room)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    rows = list(qs.order_by("-seq")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, has_more


def messages_after(room: Room, after: int, limit: int) -> Page:
    """The first `limit` messages above seq `after`, oldest first."""
    rows = list(_messages(room).filter(seq__gt=after).order_by("seq")[: limit + 1])
    return rows[:limit], len(rows) > limit


def message_rows(room: Room, after: int, limit: int) -> list[tuple]:
    """The first `limit` messages above seq `after` in wire form, for reading a whole room
    (exports) at speed: protocol.MESSAGE_COLUMNS, with the timestamps as the protocol's ISO
    text (the database writes them: parsing them into datetimes to format them again was a
    third of an export's time) and mentions and reactions as JSON text (Django turns
    psycopg's decoding off), for protocol.message_json. One SQL statement and the driver's
    own values, without the ORM's model instances and per-field converters."""
    message, user = Message._meta.db_table, get_user_model()._meta.db_table
    created, edited, deleted = (_iso("m." + c) for c in ("created_at", "edited_at", "deleted_at"))
    sql = (
        f"SELECT m.seq, u.username, m.body, {created}, m.client_id, {edited}, "
        f"{deleted}, m.html, m.mentions, m.reply_to, m.reactions "
        f"FROM {message} m JOIN {user} u ON u.id = m.author_id "
        f"WHERE m.room_id = %s AND m.seq > %s ORDER BY m.seq LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [room.pk, after, limit])
        return cursor.fetchall()


def _iso(column: str) -> str:
    """SQL for a datetime column as the protocol's text (datetime.isoformat with
    microseconds, in UTC: 2026-12-03T10:00:00.000000+00:00), NULL for NULL. SQLite holds
    Django's naive UTC text, `YYYY-MM-DD HH:MM:SS[.ffffff]` (no fraction when it is zero)."""
    if connection.vendor == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'"
    return (
        f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || '.' || "
        f"substr(substr({column}, 21) || '000000', 1, 6) || '+00:00'"
    )


BOTS_MAX = 500


def bot_usernames() -> list[str]:
    """The accounts flagged as bots (chat.models.Profile), for the page's badge."""
    rows = Profile.objects.filter(bot=True, user__is_active=True).order_by("user__username")
    return list(rows.values_list("user__username", flat=True)[:BOTS_MAX])


def rooms_with_stats() -> QuerySet[Room]:
    """Rooms for the room list, most recently active first. `last_seq` is the message count
    (deleted messages keep their seq)."""
    return Room.objects.order_by("-last_activity", "slug")


def messages_in_range(slug: str, after: int, before: int | None, limit: int) -> list[Message]:
    """Messages of room `slug` with after < seq < before (no upper bound when None), oldest
    first, at most `limit`. Used to fill gaps on the broadcast path."""
    qs = Message.objects.filter(room__slug=slug, seq__gt=after).select_related("author")
    if before is not None:
        qs = qs.filter(seq__lt=before)
    return list(qs.order_by("seq")[:limit])


def has_post(room: Room, user: AbstractBaseUser, client_id: str) -> bool:
    """Whether `user` already stored a message with `client_id` in `room`."""
    return Message.objects.filter(room_id=room.pk, author_id=user.pk, client_id=client_id).exists()


def deleted_seqs(room: Room, after: int, upto: int) -> list[int]:
    """Seqs of the deleted messages with after < seq <= upto (a keyset range, so bounded)."""
    return list(
        Message.objects.filter(
            room_id=room.pk, seq__gt=after, seq__lte=upto, deleted_at__isnull=False
        )
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def changed_messages(room: Room, after: int, upto: int) -> list[Message]:
    """The messages with after < seq <= upto that were ever edited or reacted to, and are
    not deleted: what a resume sends again as message_edited / reactions frames."""
    return list(
        _messages(room)
        .filter(seq__gt=after, seq__lte=upto, changed_at__isnull=False, deleted_at__isnull=True)
        .order_by("seq")
    )


def purged_upto(room: Room) -> int:
    return Room.objects.filter(pk=room.pk).values_list("purged_upto", flat=True).first() or 0


def last_seq(slug: str) -> int | None:
    return Room.objects.filter(slug=slug).values_list("last_seq", flat=True).first()


def last_seqs(slugs: list[str]) -> dict[str, int]:
    """Each room's last seq, in one query (the fan-out's periodic catch-up)."""
    return dict(Room.objects.filter(slug__in=slugs).values_list("slug", "last_seq"))


@dataclass(frozen=True)
class Welcome:
    """What a socket's welcome carries (chat.protocol.welcome_frame builds it)."""

    room: Room  # as read for the welcome (the handshake's may be older)
    messages: list[Message]
    has_more: bool
    has_more_after: bool | None  # only on a resume
    last_seq: int
    moderator: bool
    deleted: list[int]  # on a resume: deleted seqs among the RESUME_MAX at or below since
    changed: list[Message]  # and the edited or reacted-to messages among them
    last_read: int
    muted_until: datetime | None
    members: list[str] | None  # a private room's


def welcome(room: Room, user: AbstractBaseUser, since: int | None) -> Welcome | None:
    """The welcome of one socket (welcomes() says what it holds)."""
    return welcomes(room, [(user, since)])[0]


@dataclass(frozen=True)
class _Page:
    messages: list[Message]
    has_more: bool
    has_more_after: bool | None
    deleted: list[int]
    changed: list[Message]


def welcomes(room: Room, asks: list[tuple[AbstractBaseUser, int | None]]) -> list[Welcome | None]:
    """The welcomes of sockets joining `room` together, each (user, since), by the
    welcome's rules (docs/protocol.md, Resume): the latest page, or on a resume what came
    after `since` and the deletions below it; None for a user who may not enter (a ban that
    committed after the handshake's check: this runs once the socket is subscribed, so such
    a ban is seen here or its close event reaches the socket).

    The fan-out admits a room's joins in batches (a room of thousands reconnects at once
    after a deploy): what is the same for every socket (the page for a given `since`, the
    room's last seq, a private room's members) is read once, and the per-user rows
    (memberships, staff flags, read markers) in one query each. The room itself is read
    again, after the sockets subscribed: a room made private (or deleted) since the
    handshakes is seen here, or its close event reaches them."""
    fresh = Room.objects.filter(pk=room.pk).first()
    if fresh is None:
        return [None] * len(asks)
    room = fresh
    ids = [user.pk for user, _ in asks]
    rows = Membership.objects.filter(room_id=room.pk, user_id__in=ids)
    memberships = {member.user_id: member for member in rows}
    now = timezone.now()
    allowed = {
        user.pk
        for user, _ in asks
        if not permissions.is_banned(room, user, now, memberships.get(user.pk))
        and permissions.can_see(room, user, memberships.get(user.pk))
    }
    if not allowed:
        return [None] * len(asks)
    pages: dict[int | None, _Page] = {}
    for user, since in asks:
        if user.pk in allowed and since not in pages:
            pages[since] = _page(room, since)
    flags = {
        pk: (staff, active)
        for pk, staff, active in get_user_model()
        .objects.filter(pk__in=allowed)
        .values_list("pk", "is_staff", "is_active")
    }
    reads = dict(
        ReadMarker.objects.filter(room_id=room.pk, user_id__in=allowed).values_list(
            "user_id", "last_read"
        )
    )
    people = members(room) if room.private else None
    out: list[Welcome | None] = []
    for user, since in asks:
        if user.pk not in allowed:
            out.append(None)
            continue
        page, member = pages[since], memberships.get(user.pk)
        muted = member.muted_until if member is not None and member.is_muted(now) else None
        out.append(
            Welcome(
                room=room,
                messages=page.messages,
                has_more=page.has_more,
                has_more_after=page.has_more_after,
                # A post may commit between the two reads: the page then goes further.
                last_seq=max(room.last_seq, page.messages[-1].seq if page.messages else 0),
                moderator=permissions.can_moderate(room, user, member, flags.get(user.pk)),
                deleted=page.deleted,
                changed=page.changed,
                last_read=reads.get(user.pk, 0),
                muted_until=muted,
                members=people,
            )
        )
    return out


def _page(room: Room, since: int | None) -> _Page:
    """The messages of a welcome: the latest page, or a resume's replay from `since`."""
    if since is None:
        rows, has_more = messages_before(room, None, protocol.WELCOME_PAGE)
        rows, cut = protocol.fit_frame(rows, keep_newest=True)
        return _Page(rows, has_more or cut, None, [], [])
    rows, more_after = messages_after(room, since, protocol.RESUME_MAX)
    rows, cut = protocol.fit_frame(rows, keep_newest=False)
    return _Page(
        rows,
        # Older messages exist unless retention purged everything up to `since`.
        since > room.purged_upto,
        more_after or cut,
        deleted_seqs(room, since - protocol.RESUME_MAX, since),
        changed_messages(room, since - protocol.RESUME_MAX, since),
    )


# --- the user's room list and its counts --------------------------------------------------

ROOM_LIST_MAX = 200  # rooms in a hello / rooms frame, most recently active first


def counts(room: Room, marker: ReadMarker | None) -> Counts:
    """A room's counts for a user, from seqs alone (chat.models.ReadMarker)."""
    # What is left to read: the messages kept (retention purges the oldest) but deleted ones.
    readable = max(0, room.last_seq - room.purged_upto - room.deleted_count)
    if marker is None:  # read nothing, posted nothing: only deletions do not count
        return Counts(room.last_seq, 0, readable, 0)
    unread = min(marker.unread(room.last_seq), readable)
    return Counts(room.last_seq, marker.last_read, unread, marker.mentions)


def public_rooms() -> QuerySet[Room]:
    """The rooms every logged-in user sees (the room list page), most recently active
    first."""
    return rooms_with_stats().filter(private=False)


def visible_rooms(user: AbstractBaseUser) -> QuerySet[Room]:
    """The rooms `user` can see (chat.permissions.can_see, as one query): every public
    room, and the private rooms and direct conversations they are a member of."""
    mine = Membership.objects.filter(user_id=user.pk, joined_at__isnull=False)
    return rooms_with_stats().filter(Q(private=False) | Q(pk__in=mine.values("room_id")))


def private_rooms_of(user_ids: list[int]) -> dict[int, set[int]]:
    """{user id: ids of the private rooms they are a member of}, in one query."""
    rows = Membership.objects.filter(user_id__in=user_ids, joined_at__isnull=False)
    found: dict[int, set[int]] = {user_id: set() for user_id in user_ids}
    for user_id, room_id in rows.filter(room__private=True).values_list("user_id", "room_id"):
        found[user_id].add(room_id)
    return found


def room_summaries(user: AbstractBaseUser) -> list[Summary]:
    """The home socket's `hello`: the rooms `user` can see, with their counts."""
    return summaries_for([user.pk])[user.pk]


Summary = tuple[Room, Counts]


def summaries_for(user_ids: list[int]) -> dict[int, list[Summary]]:
    """Each user's room list with counts (`hello`, `rooms`): the public rooms once, the
    private ones each user is in, their markers and the other side of each direct
    conversation: four queries for any number of users, O(rooms shown) rows each."""
    public = list(public_rooms()[:ROOM_LIST_MAX])
    mine = private_rooms_of(user_ids)
    private = {r.pk: r for r in Room.objects.filter(pk__in=set().union(*mine.values()))}
    _name_dm_sides(private.values())
    lists: dict[int, list[Room]] = {}
    for user_id in user_ids:
        rooms = public + [
            _as_seen_by(private[pk], user_id) for pk in mine[user_id] if pk in private
        ]
        rooms.sort(key=lambda r: (-r.last_activity.timestamp(), r.slug))
        lists[user_id] = rooms[:ROOM_LIST_MAX]
    room_ids = {room.pk for rooms in lists.values() for room in rooms}
    markers = _markers(user_ids, list(room_ids))
    return {
        user_id: [(room, counts(room, markers.get((user_id, room.pk)))) for room in rooms]
        for user_id, rooms in lists.items()
    }


def _as_seen_by(room: Room, user_id: int) -> Room:
    """`room` with `dm_with` set for a direct conversation: the other side's username (a
    copy per user, since each sees the other side)."""
    if not room.is_dm:
        return room
    mine = copy.copy(room)
    mine.dm_with = next((n for uid, n in room.dm_users.items() if uid != user_id), "")
    return mine


def _name_dm_sides(rooms: Iterable[Room]) -> None:
    """Give each direct conversation `dm_users`: its two members' usernames by user id (a
    summary's `with` is the side that is not the user's)."""
    dms = {room.pk: room for room in rooms if room.is_dm}
    for room in dms.values():
        room.dm_users = {}
    rows = Membership.objects.filter(room_id__in=dms, joined_at__isnull=False)
    for room_id, user_id, name in rows.values_list("room_id", "user_id", "user__username"):
        dms[room_id].dm_users[user_id] = name


def unread_counts(user_ids: list[int], slugs: list[str]) -> dict[tuple[int, str], Counts]:
    """The counts of rooms `slugs` for each user who can see them: what the fan-out sends
    as `unread` frames after new messages (three queries, O(users x rooms) rows)."""
    rooms = list(Room.objects.filter(slug__in=slugs))
    private = [room.pk for room in rooms if room.private]
    mine = private_rooms_of(user_ids) if private else {}
    markers = _markers(user_ids, [room.pk for room in rooms])
    return {
        (user_id, room.slug): counts(room, markers.get((user_id, room.pk)))
        for room in rooms
        for user_id in user_ids
        if not room.private or room.pk in mine[user_id]
    }


def _markers(user_ids: list[int], room_ids: list[int]) -> dict[tuple[int, int], ReadMarker]:
    rows = ReadMarker.objects.filter(user_id__in=user_ids, room_id__in=room_ids)
    return {(m.user_id, m.room_id): m for m in rows}
