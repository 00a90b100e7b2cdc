"""Private rooms' members, invitations and direct conversations.

Who sees a private room is one rule (chat.permissions.can_see: a Membership with
`joined_at`); these services are the only writers of it. Every change reaches the users it
concerns through their stream (a `rooms` frame with their new list), the room's sockets
(`room_updated` with the members), and for a removal, a close (4403) of the removed user's
sockets in the room on every process.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import fanout, permissions, protocol, selectors
from ..errors import BadRequest, ChatError, CloseCode, Forbidden
from ..models import Invitation, Membership, Role, Room
from .base import emit, service
from .moderation import _act_on_user, _audit, _require_moderator, _standing

log = logging.getLogger("chat")

INVITATION_SALT = "chat.invitation"  # a token signed for this purpose only
INVITATION_HOURS_DEFAULT = 7 * 24
INVITATION_HOURS_MAX = 30 * 24


class InvalidInvitation(ChatError):
    """A tampered, expired or revoked invitation link (the page says so kindly)."""

    def __init__(self) -> None:
        super().__init__("bad_request", "This invitation link is not valid any more.")


def lists_changed(*user_ids: int) -> None:
    """Send each of these users their room list as it is in this transaction."""
    lists = selectors.summaries_for(list(user_ids))
    for user_id, summaries in lists.items():
        emit(fanout.user_event(user_id, protocol.rooms_frame(summaries)))


def members_changed(room: Room) -> None:
    """Everyone in the room hears its members as they are now."""
    people = selectors.members(room)
    emit(fanout.room_event(room.slug, protocol.room_updated_frame(room, people)))


def _user(username: str) -> AbstractBaseUser:
    found = get_user_model().objects.filter(username=username, is_active=True).first()
    if found is None:
        raise BadRequest(f"There is no user {username[:40]!r}.")
    return found


def _fresh(room: Room) -> Room:
    """The room as stored now, locked: a socket holds the one of its handshake, and the
    room may have become private or public since."""
    return Room.objects.select_for_update().get(pk=room.pk)


def _invitable(room: Room) -> None:
    if room.is_dm:
        raise BadRequest("Nobody can be invited into a direct conversation.")
    if not room.private:
        raise BadRequest("Everyone can see a public room: there is no one to invite.")


def join(room: Room, user: AbstractBaseUser) -> Membership:
    """Make `user` a member of private `room` (inside the caller's transaction)."""
    member, _ = Membership.objects.select_for_update().get_or_create(room=room, user=user)
    if member.joined_at is None:
        member.joined_at = timezone.now()
        member.save(update_fields=["joined_at"])
    return member


@service
def invite(*, room: Room, actor: AbstractBaseUser, user: str) -> Membership:
    """The owner or a moderator makes `user` a member of private `room` at once."""
    with transaction.atomic():
        _require_moderator(room, actor)  # first: outsiders learn nothing of names
        room = _fresh(room)
        _invitable(room)
        invitee = _user(user)
        member = Membership.objects.filter(room=room, user=invitee).first()
        if member is not None and member.joined_at is not None:
            raise BadRequest(f"{invitee.get_username()} is a member already.")
        if member is not None and member.is_banned(timezone.now()):
            raise BadRequest(f"{invitee.get_username()} is banned here; lift the ban first.")
        member = join(room, invitee)
        _audit(actor, "invite", room, target=invitee)
        lists_changed(invitee.pk)
        members_changed(room)
    return member


@service
def remove_member(*, room: Room, actor: AbstractBaseUser, user: str, reason: str = "") -> None:
    """End `user`'s membership of private `room` (the owner or a moderator, of higher rank
    than theirs): their sockets in it close with 4403 and it leaves their list."""
    with transaction.atomic():
        _require_moderator(room, actor)
        room = _fresh(room)
        _invitable(room)
        target = _user(user)
        if not permissions.is_member(room, target):
            raise BadRequest(f"{target.get_username()} is not a member.")
        _act_on_user(room, actor, target, "remove", changes={"joined_at": None}, close=True)
        lists_changed(target.pk)
        members_changed(room)


@service
def leave_room(*, room: Room, user: AbstractBaseUser) -> None:
    """A member leaves private `room`: their sockets in it close (4403) and it leaves their
    list. A direct conversation cannot be left; a public room has nothing to leave."""
    with transaction.atomic():
        room = _fresh(room)
        if room.is_dm:
            raise BadRequest("A direct conversation cannot be left.")
        if not room.private:
            raise BadRequest("Everyone can see a public room: there is nothing to leave.")
        updated = Membership.objects.filter(room=room, user=user, joined_at__isnull=False).update(
            joined_at=None
        )
        if not updated:
            raise BadRequest("You are not a member of this room.")
        heir = _pass_ownership(room) if room.created_by_id == user.pk else None
        detail = f"owner now {heir.user.get_username()}" if heir else ""
        _audit(user, "leave", room, target=user, detail=detail)
        emit(fanout.close_event(code=CloseCode.REMOVED, user_id=user.pk, room=room.slug))
        lists_changed(user.pk)
        members_changed(room)


def _pass_ownership(room: Room) -> Membership | None:
    """The owner left: the room goes to the member who has moderated it longest, else to
    the longest-standing member (a private room nobody may invite to or moderate would be
    stuck); None when nobody is left. The new owner's pages hear their standing."""
    members = Membership.objects.filter(room=room, joined_at__isnull=False)
    members = members.select_related("user").order_by("joined_at", "pk")
    heir = members.filter(role=Role.MODERATOR).first() or members.first()
    if heir is None:
        return None
    room.created_by = heir.user
    room.save(update_fields=["created_by"])
    emit(fanout.user_event(heir.user_id, _standing(room, heir)))
    return heir


def _dm_key(a: AbstractBaseUser, b: AbstractBaseUser) -> str:
    low, high = sorted((a.pk, b.pk))
    return f"{low}:{high}"


@service
def open_dm(*, user: AbstractBaseUser, other: str) -> Room:
    """The direct conversation of `user` and `other`: made the first time (both members,
    in both lists), the same one after that."""
    peer = _user(other)
    if peer.pk == user.pk:
        raise BadRequest("A direct conversation needs someone else.")
    key = _dm_key(user, peer)
    room = Room.objects.filter(dm_key=key).first()
    if room is not None:
        return room
    names = sorted((user.get_username(), peer.get_username()))
    try:
        with transaction.atomic():
            room = Room.objects.create(
                slug=f"dm-{secrets.token_hex(6)}",
                title=" · ".join(names)[:100],
                private=True,
                dm_key=key,
                created_by=None,  # nobody owns a conversation of two: no one moderates it
            )
            join(room, user)
            join(room, peer)
            lists_changed(user.pk, peer.pk)
    except IntegrityError:  # the other side opened it at the same moment
        return Room.objects.get(dm_key=key)
    log.info("direct conversation opened room=%s", room.slug)
    return room


# --- invitation links ---------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    """The link's token: the invitation's id, signed for this purpose (never the slug)."""
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


@service
def create_invitation(
    *, room: Room, actor: AbstractBaseUser, hours: int = INVITATION_HOURS_DEFAULT
) -> tuple[Invitation, str]:
    """A link that lets whoever follows it join private `room` for `hours` (at most
    INVITATION_HOURS_MAX), until revoked. Returns it and its token."""
    with transaction.atomic():
        _require_moderator(room, actor)
        room = _fresh(room)
        _invitable(room)
        if not 1 <= hours <= INVITATION_HOURS_MAX:
            raise BadRequest(f"An invitation lasts 1 to {INVITATION_HOURS_MAX} hours.")
        invitation = Invitation.objects.create(
            room=room, created_by=actor, expires_at=timezone.now() + timedelta(hours=hours)
        )
        _audit(actor, "invitation", room, detail=f"#{invitation.pk}, {hours} h")
    return invitation, invitation_token(invitation)


@service
def revoke_invitation(*, room: Room, actor: AbstractBaseUser, invitation_id: int) -> Invitation:
    with transaction.atomic():
        _require_moderator(room, actor)
        invitation = Invitation.objects.filter(room=room, pk=invitation_id).first()
        if invitation is None:
            raise BadRequest(f"There is no invitation {invitation_id} to this room.")
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            _audit(actor, "revoke_invitation", room, detail=f"#{invitation.pk}")
    return invitation


def invitation_for(token: str) -> Invitation:
    """The valid invitation a token names; InvalidInvitation for a tampered, expired or
    revoked one (or one whose room is gone)."""
    try:
        pk = signing.loads(token, salt=INVITATION_SALT, max_age=timedelta(hours=24 * 31))
    except signing.BadSignature as err:
        raise InvalidInvitation() from err
    invitation = Invitation.objects.select_related("room").filter(pk=pk).first()
    if invitation is None or not invitation.is_valid(timezone.now()):
        raise InvalidInvitation()
    return invitation


@service
def accept_invitation(*, token: str, user: AbstractBaseUser) -> Room:
    """Follow an invitation link: `user` becomes a member of its room. A banned user is
    refused as if the link were not valid."""
    with transaction.atomic():
        invitation = invitation_for(token)
        room = invitation.room
        member = Membership.objects.filter(room=room, user=user).first()
        if member is not None and member.is_banned(timezone.now()):
            raise InvalidInvitation()
        if member is None or member.joined_at is None:
            join(room, user)
            Invitation.objects.filter(pk=invitation.pk).update(uses=invitation.uses + 1)
            _audit(user, "join", room, target=user, detail=f"invitation #{invitation.pk}")
            lists_changed(user.pk)
            members_changed(room)
    return room


def check_private_change(room: Room, actor: AbstractBaseUser) -> None:
    """Only the owner (or staff) makes a room private or public; never a direct
    conversation."""
    if room.is_dm:
        raise BadRequest("A direct conversation is always private.")
    if not permissions.can_set_private(room, permissions.rank(room, actor)):
        raise Forbidden("Only the room's owner may make it private or public.")


@service
def set_private(*, room: Room, actor: AbstractBaseUser, private: bool) -> Room:
    """Make a room private or public (its owner or staff). Made private, its owner and
    moderators are its members and everyone else's sockets in it close (4403): they are
    invited back or not. Every room list changes."""
    with transaction.atomic():
        check_private_change(room, actor)
        room = Room.objects.select_for_update().get(pk=room.pk)
        if room.private == private:
            return room
        room.private = private
        room.save(update_fields=["private"])
        keep: list[int] = []
        if private:
            staff = [m.user for m in room.memberships.filter(role__in=("owner", "moderator"))]
            for user in {u.pk: u for u in [room.created_by, *staff] if u is not None}.values():
                join(room, user)
                keep.append(user.pk)
            close = fanout.close_event(code=CloseCode.REMOVED, room=room.slug, keep=keep)
            emit(close)
        _audit(actor, "private" if private else "public", room)
        emit(fanout.rooms_changed_event())
        if private:
            members_changed(room)
        else:
            emit(fanout.room_event(room.slug, protocol.room_updated_frame(room)))
    return room
