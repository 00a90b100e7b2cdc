"""Moderation: actions on messages, users and rooms, each checked against the actor's rank,
audited, and published live after the commit."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import fanout, permissions, protocol, ratelimit
from ..errors import (
    BadRequest,
    ChatError,
    CloseCode,
    Forbidden,
)
from ..models import AuditLog, Membership, Message, Report, Role, Room
from . import mentions, reads
from .base import emit, service
from .messages import locked_message

log = logging.getLogger("chat")


# Every action checks the actor's rank (chat.permissions), writes the current state and an
# AuditLog row in one transaction, and publishes its live effect after the commit.


def _forbidden(detail: str = "You may not moderate this room.") -> ChatError:
    return Forbidden(detail)


def _audit(
    actor: AbstractBaseUser | None,
    action: str,
    room: Room | None,
    *,
    target: AbstractBaseUser | None = None,
    seq: int | None = None,
    reason: str = "",
    detail: str = "",
) -> None:
    AuditLog.objects.create(
        actor=actor,
        action=action,
        room=room,
        target_user=target,
        message_seq=seq,
        reason=reason[: protocol.REASON_MAX],
        detail=detail,
    )
    log.info(
        "moderation %s room=%s actor=%s target=%s seq=%s",
        action,
        room.slug if room else "-",
        actor.get_username() if actor else "-",
        target.get_username() if target else "-",
        seq,
    )


def _require_moderator(room: Room, actor: AbstractBaseUser) -> int:
    """The actor's rank, if it moderates the room; otherwise refuse."""
    actor_rank = permissions.rank(room, actor)
    if actor_rank < permissions.MODERATOR:
        raise _forbidden()
    return actor_rank


def _target(
    room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str
) -> tuple[Membership, int]:
    """The target's membership row, created if missing and locked for update, and the
    actor's rank, after checking that the actor moderates the room and outranks the target.
    The actor comes first: a non-moderator gets the same refusal whether the name exists or
    not, so the commands cannot tell members who has an account."""
    actor_rank = _require_moderator(room, actor)
    if isinstance(user, str):
        found = get_user_model().objects.filter(username=user).first()
        if found is None:
            raise BadRequest(f"There is no user {user[:40]!r}.")
        user = found
    member, _ = Membership.objects.select_for_update().get_or_create(room=room, user=user)
    if permissions.rank(room, user, member) >= actor_rank:
        raise _forbidden(f"You may not moderate {user.get_username()} in this room.")
    return member, actor_rank


# Who imposed a ban or mute, by rank, and who may therefore lift it (for the refusal).
_IMPOSERS = {
    permissions.STAFF: ("Staff", "staff"),
    permissions.OWNER: ("The room's owner", "the owner or staff"),
}


def _check_restriction(member: Membership, kind: str, actor_rank: int, *, lift: bool) -> None:
    """Refuse to lift or replace (a re-ban or re-mute could shorten it) a current ban or
    mute that a higher rank than the actor's imposed: an owner cannot undo staff."""
    now = timezone.now()
    current = member.is_banned(now) if kind == "ban" else member.is_muted(now)
    imposed = getattr(member, f"{kind}_rank")
    if current and imposed > actor_rank:
        who, whom = _IMPOSERS[imposed]  # above a moderator's rank: the owner or staff
        verb = "lift" if lift else "change"
        raise _forbidden(f"{who} imposed this {kind}; only {whom} can {verb} it.")


@service
def delete_message(*, room: Room, actor: AbstractBaseUser, seq: int, reason: str = "") -> Message:
    """Soft-delete message `seq` (its author or a moderator): the body is blanked, the seq
    stays taken, and the room hears `message_deleted`. Deleting it again changes nothing."""
    with transaction.atomic():
        message = locked_message(room, seq)
        if message.author_id != actor.pk:
            _require_moderator(room, actor)
        if message.deleted_at is not None:
            return message
        message.body = message.html = ""
        message.mentions, message.reactions = [], []
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "html", "mentions", "reactions", "deleted_at"])
        message.reaction_rows.all().delete()
        message.edits.all().delete()  # a deleted message keeps no copy of what it said
        reads.count_deletion(room, message)
        mentions.count_deleted(room, seq)
        _audit(actor, "delete", room, target=message.author, seq=seq, reason=reason)
    emit(
        fanout.room_event(room.slug, protocol.message_deleted_frame(seq)),
        fanout.activity_event(room.slug),  # it no longer counts as unread
    )
    return message


def _act_on_user(
    room: Room,
    actor: AbstractBaseUser,
    user: AbstractBaseUser | str,
    action: str,
    *,
    changes: dict[str, object],
    reason: str = "",
    detail: str = "",
    close: bool = False,
    restriction: str | None = None,
    lift: bool = False,
) -> Membership:
    """The shape of every action on a user: check ranks, set `changes` on their membership,
    log it, and (ban, kick) close their sockets in the room on every process, or (mute,
    unmute, role) tell their sockets their standing in the room (`standing`).

    `restriction` ("ban" or "mute") names what the action imposes or, with `lift`, lifts:
    a current one imposed by a higher rank than the actor's is refused, and a new one
    records the actor's rank."""
    with transaction.atomic():
        member, actor_rank = _target(room, actor, user)
        if restriction is not None:
            _check_restriction(member, restriction, actor_rank, lift=lift)
            changes = {**changes, f"{restriction}_rank": 0 if lift else actor_rank}
        for field, value in changes.items():
            setattr(member, field, value)
        if changes:
            member.save(update_fields=list(changes))
        _audit(actor, action, room, target=member.user, reason=reason, detail=detail)
    if close:
        emit(fanout.close_event(code=CloseCode.REMOVED, user_id=member.user_id, room=room.slug))
    elif action in _TOLD:
        emit(fanout.user_event(member.user_id, _standing(room, member)))
    return member


# Actions that change what a user's open pages of the room may do (an unban has none open).
_TOLD = frozenset({"mute", "unmute", "role"})


def _standing(room: Room, member: Membership) -> str:
    """The target's `standing` frame: what their open pages of the room must now show."""
    now = timezone.now()
    return protocol.standing_frame(
        room.slug,
        moderator=permissions.rank(room, member.user, member) >= permissions.MODERATOR,
        muted_until=member.muted_until if member.is_muted(now) else None,
    )


@service
def ban_user(
    *,
    room: Room,
    actor: AbstractBaseUser,
    user: AbstractBaseUser | str,
    reason: str = "",
    minutes: int | None = None,
) -> Membership:
    """Ban a user from the room (for `minutes`, or until unbanned): their sockets in the
    room close with 4403 on every process, and the handshake refuses them. The ban keeps
    the actor's rank: only that rank or higher may lift or replace it."""
    now = timezone.now()
    until = now + timedelta(minutes=minutes) if minutes else None
    changes = {"banned_at": now, "banned_until": until, "ban_reason": reason[: protocol.REASON_MAX]}
    detail = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "permanent"
    return _act_on_user(
        room,
        actor,
        user,
        "ban",
        changes=changes,
        reason=reason,
        detail=detail,
        close=True,
        restriction="ban",
    )


@service
def unban_user(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, reason: str = ""
) -> Membership:
    """Lift a user's ban (one that staff imposed needs staff, the owner's the owner)."""
    changes = {"banned_at": None, "banned_until": None, "ban_reason": ""}
    return _act_on_user(
        room, actor, user, "unban", changes=changes, reason=reason, restriction="ban", lift=True
    )


@service
def mute_user(
    *,
    room: Room,
    actor: AbstractBaseUser,
    user: AbstractBaseUser | str,
    minutes: int = protocol.MUTE_DEFAULT_MINUTES,
    reason: str = "",
) -> Membership:
    """Mute a user in the room for `minutes`: their posts are refused with `forbidden`.
    The mute keeps the actor's rank, as a ban does."""
    until = timezone.now() + timedelta(minutes=minutes)
    return _act_on_user(
        room,
        actor,
        user,
        "mute",
        changes={"muted_until": until},
        reason=reason,
        detail=f"until {until:%Y-%m-%d %H:%M} UTC",
        restriction="mute",
    )


@service
def unmute_user(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, reason: str = ""
) -> Membership:
    """Lift a user's mute (one that staff imposed needs staff, the owner's the owner)."""
    changes = {"muted_until": None}
    return _act_on_user(
        room, actor, user, "unmute", changes=changes, reason=reason, restriction="mute", lift=True
    )


@service
def kick_user(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, reason: str = ""
) -> Membership:
    """Close the user's sockets in the room now (4403); they may come back."""
    return _act_on_user(room, actor, user, "kick", changes={}, reason=reason, close=True)


@service
def set_role(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, role: str
) -> Membership:
    """Make a user a moderator or a plain member of the room (owners and staff only)."""
    if role not in (Role.MODERATOR, Role.MEMBER):
        raise BadRequest("A role is moderator or member.")
    if permissions.rank(room, actor) < permissions.OWNER:
        raise _forbidden("Only the room's owner or staff may appoint moderators.")
    return _act_on_user(room, actor, user, "role", changes={"role": role}, detail=role)


@service
def update_room(
    *,
    room: Room,
    actor: AbstractBaseUser,
    locked: bool | None = None,
    slow_mode: int | None = None,
    title: str | None = None,
    topic: str | None = None,
    reason: str = "",
) -> Room:
    """Lock or unlock the room, set its slow mode (seconds, 0 = off), its title or its
    topic (the header's line under the title; "" clears it); everyone in the room hears
    `room_updated`, and a new title reaches every room list."""
    changes: list[tuple[str, str]] = []
    with transaction.atomic():
        _require_moderator(room, actor)
        room = Room.objects.select_for_update().get(pk=room.pk)
        if locked is not None and locked != room.locked:
            room.locked = locked
            changes.append(("lock" if locked else "unlock", ""))
        if slow_mode is not None and slow_mode != room.slow_mode_seconds:
            if not 0 <= slow_mode <= 3600:
                raise BadRequest("Slow mode is 0 to 3600 seconds.")
            room.slow_mode_seconds = slow_mode
            changes.append(("slow_mode", f"{slow_mode} s"))
        if title is not None and title.strip() and title.strip() != room.title:
            room.title = title.strip()[:100]
            changes.append(("title", room.title))
        if topic is not None and " ".join(topic.split()) != room.topic:
            room.topic = " ".join(topic.split())[: protocol.TOPIC_MAX]
            changes.append(("topic", room.topic[:200]))
        if not changes:
            return room
        room.save(update_fields=["locked", "slow_mode_seconds", "title", "topic"])
        for action, detail in changes:
            _audit(actor, action, room, reason=reason, detail=detail)
    emit(fanout.room_event(room.slug, protocol.room_updated_frame(room)))
    if any(action == "title" for action, _ in changes):
        emit(fanout.rooms_changed_event())
    return room


@service
def delete_room(*, room: Room, actor: AbstractBaseUser, reason: str = "") -> None:
    """Delete a room and all its messages (staff only); its open sockets close with 4404."""
    if permissions.rank(room, actor) < permissions.STAFF:
        raise _forbidden("Only staff may delete rooms.")
    with transaction.atomic():
        _audit(actor, "delete_room", None, reason=reason, detail=room.slug)
        Room.objects.filter(pk=room.pk).delete()
    emit(fanout.close_event(code=CloseCode.ROOM_DELETED, room=room.slug))
    emit(fanout.rooms_changed_event())


@service
def report_message(*, room: Room, reporter: AbstractBaseUser, seq: int, reason: str) -> Report:
    """Queue a report of message `seq` for the moderators. Reporting it again changes
    nothing. A report takes a token of the reporter's rate limit, as a post does."""
    reason = reason.strip()[: protocol.REASON_MAX]
    if not reason:
        raise BadRequest("Say why you report this message.")
    ratelimit.take_post(reporter.pk)
    message = Message.objects.filter(room_id=room.pk, seq=seq).first()
    if message is None or message.deleted_at is not None:
        raise BadRequest(f"There is no message {seq} in this room.")
    report, created = Report.objects.get_or_create(
        message=message, reporter=reporter, defaults={"reason": reason, "body": message.body}
    )
    if created:
        log.info("report room=%s seq=%d by=%s", room.slug, seq, reporter.get_username())
    return report


@service
def resolve_report(*, report: Report, actor: AbstractBaseUser, note: str = "") -> Report:
    """Mark a report handled (whatever was done about it is logged by its own action)."""
    with transaction.atomic():
        report = (
            Report.objects.select_for_update().select_related("message__room").get(pk=report.pk)
        )
        room = report.message.room
        _require_moderator(room, actor)
        if report.resolved_at is not None:
            return report
        report.resolved_at = timezone.now()
        report.resolved_by = actor
        report.save(update_fields=["resolved_at", "resolved_by"])
        _audit(
            actor,
            "resolve_report",
            room,
            target=report.reporter,
            seq=report.message.seq,
            reason=note,
            detail=report.reason[:200],
        )
    return report


# The actions on a user, by their protocol name (chat.protocol.USER_ACTIONS), for every
# entry point (the command registry, the admin); TIMED ones take `minutes`.
USER_ACTIONS = {
    "mute": mute_user,
    "unmute": unmute_user,
    "ban": ban_user,
    "unban": unban_user,
    "kick": kick_user,
}
TIMED_ACTIONS = frozenset({"mute", "ban"})
assert set(USER_ACTIONS) == set(protocol.USER_ACTIONS)
