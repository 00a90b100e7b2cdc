"""Who may do what in a room (reads only; chat.services enforces them).

Ranks: staff users moderate every room; a room's owner (its creator, or a Membership with
role "owner") and its moderators moderate it; everyone else is a member. An actor may act on
a user only of lower rank, so a moderator cannot ban the owner or another moderator, and no
one can ban themselves.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from .models import Membership, Role, Room

STAFF, OWNER, MODERATOR, MEMBER = 3, 2, 1, 0


def membership(room: Room, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.filter(room_id=room.pk, user_id=user.pk).first()


def rank(room: Room, user: AbstractBaseUser, member: Membership | None = None) -> int:
    """The user's rank in the room; pass `member` when it is already loaded."""
    if getattr(user, "is_staff", False) and user.is_active:
        return STAFF
    if room.created_by_id is not None and room.created_by_id == user.pk:
        return OWNER
    if member is None:
        member = membership(room, user)
    if member is not None and member.role == Role.OWNER:
        return OWNER
    if member is not None and member.role == Role.MODERATOR:
        return MODERATOR
    return MEMBER


def can_moderate(room: Room, user: AbstractBaseUser) -> bool:
    """The selector for templates and views: may `user` moderate `room`?"""
    return user.is_authenticated and rank(room, user) >= MODERATOR


def is_banned(room: Room, user: AbstractBaseUser, now: datetime) -> bool:
    member = membership(room, user)
    return member is not None and member.is_banned(now)
