"""Who may do what in a room (reads only; chat.services enforces them).

Who sees a room (`can_see`, the one access rule): everyone logged in sees a public room; a
private room or a direct conversation only its members (Membership.joined_at set). To
everyone else it does not exist: pages, sockets, lists, counts and errors all ask here.

Ranks: staff users moderate every room; a room's owner (its creator, or a Membership with
role "owner") and its moderators moderate it; everyone else is a member. An actor may act on
a user only of lower rank, so a moderator cannot ban the owner or another moderator, and no
one can ban themselves. A ban or mute stores the rank that imposed it, and only that rank or
higher may lift it (Membership.ban_rank / mute_rank).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from .models import Membership, Role, Room

STAFF, OWNER, MODERATOR, MEMBER = 3, 2, 1, 0
_UNKNOWN = object()  # "not loaded yet": the default of the arguments callers may pass


def membership(room: Room, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.filter(room_id=room.pk, user_id=user.pk).first()


def rank(
    room: Room,
    user: AbstractBaseUser,
    member: Membership | object | None = _UNKNOWN,
    flags: tuple[bool, bool] | object | None = _UNKNOWN,
) -> int:
    """The user's rank in the room; pass `member` (None: no row) and `flags` (staff_flags'
    answer) when they are already loaded.

    Staff status is read from the database on every call, not from `user`: a socket keeps
    the user object of its handshake for as long as it is open, and a staff flag removed
    (or set) since must count at once.
    """
    if flags is _UNKNOWN:
        flags = staff_flags(user)
    if flags is None:  # anonymous, or deleted since
        return MEMBER
    if flags == (True, True):
        return STAFF
    if room.created_by_id is not None and room.created_by_id == user.pk:
        return OWNER
    if member is _UNKNOWN:
        member = membership(room, user)
    role = member.role if isinstance(member, Membership) else None  # None: no row
    if role == Role.OWNER:
        return OWNER
    if role == Role.MODERATOR:
        return MODERATOR
    return MEMBER


def staff_flags(user: AbstractBaseUser) -> tuple[bool, bool] | None:
    """The user's (is_staff, is_active) as stored now; None for an anonymous or gone user."""
    if user.pk is None:
        return None
    return get_user_model().objects.filter(pk=user.pk).values_list("is_staff", "is_active").first()


def is_staff(user: AbstractBaseUser) -> bool:
    """Whether `user` is an active staff user now (read from the database)."""
    return staff_flags(user) == (True, True)


def can_moderate(
    room: Room,
    user: AbstractBaseUser,
    member: Membership | object | None = _UNKNOWN,
    flags: tuple[bool, bool] | object | None = _UNKNOWN,
) -> bool:
    """The one moderator check: may `user` moderate `room`? (pass `member` and `flags`
    when loaded)"""
    return user.is_authenticated and rank(room, user, member, flags) >= MODERATOR


def is_banned(
    room: Room, user: AbstractBaseUser, now: datetime, member: Membership | object | None = _UNKNOWN
) -> bool:
    """The one ban check: is `user` banned from `room` at `now`? Pass `member` (None: no
    row) when it is loaded already."""
    if member is _UNKNOWN:
        member = membership(room, user)
    return member is not None and member.is_banned(now)  # type: ignore[union-attr]


def is_member(
    room: Room, user: AbstractBaseUser, member: Membership | object | None = _UNKNOWN
) -> bool:
    """Whether `user` is a member of private room `room` now (pass `member` when loaded)."""
    if member is _UNKNOWN:
        member = membership(room, user)
    return member is not None and member.joined_at is not None  # type: ignore[union-attr]


def can_invite(room: Room, rank_here: int) -> bool:
    """May a user of `rank_here` invite and remove members of `room`? Only a private room's
    (not a direct conversation's) owner and moderators."""
    return room.private and not room.is_dm and rank_here >= MODERATOR


def can_set_private(room: Room, rank_here: int) -> bool:
    """May a user of `rank_here` make `room` private or public? Its owner or staff; never
    a direct conversation."""
    return not room.is_dm and rank_here >= OWNER


def can_see(
    room: Room, user: AbstractBaseUser, member: Membership | object | None = _UNKNOWN
) -> bool:
    """The one access rule: may `user` know that `room` exists, read it and post in it (a
    ban or a mute aside)? Public rooms: every active user; private rooms and direct
    conversations: their members only."""
    if not user.is_authenticated:
        return False
    return not room.private or is_member(room, user, member)
