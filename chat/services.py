"""Every state change of the chat, and nothing else writes or publishes.

A service writes the database in one transaction and returns the events to publish; the
`@service` wrapper publishes them to the room's group only after the commit (the database
is the log, the channel layer only a hint). Call a service from sync code (views, admin,
shell) as `post_message(...)` and from async code (consumers) as
`await post_message.acall(...)`.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from . import fanout, permissions, protocol, ratelimit, selectors
from .errors import (
    BadRequest,
    ChatError,
    CloseCode,
    Empty,
    Forbidden,
    RateLimited,
    TooLong,
    Unavailable,
)
from .models import AuditLog, Membership, Message, Report, Role, Room

log = logging.getLogger("chat")

P = ParamSpec("P")
R = TypeVar("R")
Events = list[fanout.Event]


class Service(Generic[P, R]):
    """Wraps `fn(...) -> (result, events)`: run it, then publish its events after commit."""

    def __init__(self, fn: Callable[P, tuple[R, Events]]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = self.fn(*args, **kwargs)
        if events:
            # on_commit runs at once outside a transaction, and waits for the caller's
            # commit inside one (the admin wraps some views in atomic blocks).
            transaction.on_commit(lambda: async_to_sync(fanout.publish)(events))
        return result

    async def acall(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = await database_sync_to_async(self.fn)(*args, **kwargs)
        if events:
            await fanout.publish(events)
        return result


def service(fn: Callable[P, tuple[R, Events]]) -> Service[P, R]:
    return Service(fn)


# --- rooms ------------------------------------------------------------------------------


def title_for(slug: str) -> str:
    """The title of a room made from its address (`my-room` -> `My Room`)."""
    return slug.replace("-", " ").replace("_", " ").strip().title() or slug


@service
def create_room(*, slug: str, user: AbstractBaseUser, title: str = "") -> tuple[Room, Events]:
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
    return room, []


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
def new_room(*, user: AbstractBaseUser, title: str) -> tuple[Room, Events]:
    """Create a room on purpose (the room list's form): the server derives a free slug from
    the title. Raises ChatError: a bad title, or rate_limited past CHAT_ROOM_CREATE_BURST
    rooms and then CHAT_ROOM_CREATE_PER_HOUR (staff are not limited)."""
    title = clean_title(title)
    if permissions.staff_flags(user) != (True, True):
        ratelimit.take_sync(
            f"rooms:{user.pk}",
            burst=settings.CHAT_ROOM_CREATE_BURST,
            per_second=settings.CHAT_ROOM_CREATE_PER_HOUR / 3600,
            detail=gettext("You have created many rooms lately; try again later."),
        )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                room = Room.objects.create(slug=slug_for(title), title=title, created_by=user)
        except IntegrityError:
            continue  # another creation took that slug in between: derive the next one
        log.info("room created room=%s user=%s", room.slug, user.get_username())
        return room, []
    raise Unavailable(gettext("The room could not be created; please retry."))


@service
def open_room(*, slug: str, user: AbstractBaseUser) -> tuple[Room | None, Events]:
    """The room a user may join at the handshake: created on first visit when
    CHAT_AUTO_CREATE_ROOMS is on; None when it does not exist and may not be created."""
    room = Room.objects.filter(slug=slug).first()
    if room is None and settings.CHAT_AUTO_CREATE_ROOMS:
        room = create_room.fn(slug=slug, user=user)[0]
    if room is not None and not selectors.may_enter(room, user):
        log.info("refused banned user room=%s user=%s", room.slug, user.get_username())
        return None, []
    return room, []


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    message: Message
    created: bool  # False: a resend of a known client_id, nothing stored
    frame: str  # the ready `message` frame


Outcome = PostResult | ChatError


def clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Empty("A message cannot be empty.")
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > limit:
        raise TooLong(f"A message may be at most {limit} characters.")
    if not protocol.storable(body):
        raise BadRequest("A message cannot contain NUL characters or unpaired surrogates.")
    return body


@service
def post_message(
    *, room: Room, user: AbstractBaseUser, body: str, client_id: str | None = None
) -> tuple[PostResult, Events]:
    """Store one message with the room's next seq, then broadcast it. Raises ChatError when
    it is refused. A resend of a stored client_id returns the stored message (created
    False) and stores nothing."""
    [outcome], events = post_messages.fn(
        room=room, user=user, posts=[protocol.Post(body, client_id)]
    )
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome, events


@service
def post_messages(
    *, room: Room, user: AbstractBaseUser, posts: Sequence[protocol.Post]
) -> tuple[list[Outcome], Events]:
    """Store one user's posts in one transaction (group commit), then broadcast them.

    A socket's posts that arrive while the previous ones are being stored come here
    together: one lock of the room, one permission check and one INSERT for all of them,
    instead of a transaction each. Returns an outcome per post, in order: its PostResult
    (created False for a resend of a stored client_id), or the ChatError refusing it.

    The room row is locked for the transaction (SQLite: BEGIN IMMEDIATE locks the whole
    database), so seqs are gapless and follow commit order.
    """
    outcomes: list[Outcome | None] = [None] * len(posts)
    bodies: dict[int, str] = {}
    for i, post in enumerate(posts):
        try:
            bodies[i] = clean_body(post.body)
        except ChatError as err:
            outcomes[i] = err
    if not bodies:
        return _done(outcomes), []
    try:
        with transaction.atomic():
            stored = _store(room, user, posts, bodies, outcomes, look_up_resends=False)
    except IntegrityError:
        # A client_id is stored already: a resend (the client reconnected before it heard
        # back). Looking resends up before every insert would cost a query per batch for
        # what is rare; the unique constraint finds them, and the batch goes again knowing
        # them. Under the room lock nothing can race the second try.
        with transaction.atomic():
            stored = _store(room, user, posts, bodies, outcomes, look_up_resends=True)
    if not stored:
        return _done(outcomes), []
    first, last = stored[0].message.seq, stored[-1].message.seq
    room.last_seq = last
    log.info("post room=%s user=%s seq=%d..%d", room.slug, user.get_username(), first, last)
    messages = [(r.message.seq, r.frame) for r in stored]
    return _done(outcomes), [fanout.messages_event(room.slug, messages)]


def _store(
    room: Room,
    user: AbstractBaseUser,
    posts: Sequence[protocol.Post],
    bodies: dict[int, str],
    outcomes: list[Outcome | None],
    *,
    look_up_resends: bool,
) -> list[PostResult]:
    """The body of post_messages' transaction: fill `outcomes` and return the results of
    the messages stored, in seq order."""
    now = timezone.now()
    last_seq, locked, slow_mode = _take_seqs(room, now, len(bodies))
    refusal, slowed = _post_refusal(room, user, now, locked=locked, slow_mode=slow_mode)
    resends: dict[str, Message] = {}
    if look_up_resends or refusal is not None:  # a refused user's resend still gets its copy
        resends = _find_resends(room, user, [posts[i].client_id for i in bodies])
    accepted: list[tuple[int, Message]] = []
    fresh: dict[str, Message] = {}  # client_id -> message stored by this batch
    for i, body in bodies.items():
        client_id = posts[i].client_id
        earlier = (resends.get(client_id) or fresh.get(client_id)) if client_id else None
        if earlier is not None:
            outcomes[i] = _result(earlier, created=False)
        elif refusal is not None:
            outcomes[i] = refusal
        else:
            message = Message(room=room, author=user, body=body, client_id=client_id)
            accepted.append((i, message))
            if client_id:
                fresh[client_id] = message
            if slowed:  # one message per slow-mode interval: the rest of the batch waits
                refusal = _slow_mode_error(slow_mode, slow_mode)
    if not accepted:
        transaction.set_rollback(True)  # nothing stored: the seqs taken go back
        return []
    first_seq = last_seq - len(bodies) + 1
    if len(accepted) < len(bodies):
        _give_back_seqs(room, first_seq + len(accepted) - 1)  # gapless: unused seqs return
    for offset, (_, message) in enumerate(accepted):
        message.seq = first_seq + offset
    Message.objects.bulk_create([message for _, message in accepted])
    stored = []
    for i, message in accepted:
        outcomes[i] = result = _result(message, created=True)
        stored.append(result)
    return stored


def _done(outcomes: list[Outcome | None]) -> list[Outcome]:
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def _take_seqs(room: Room, now: datetime, count: int) -> tuple[int, bool, int]:
    """Lock the room row and take its next `count` seqs in one statement (the hot path of
    every post: one round trip instead of SELECT ... FOR UPDATE then UPDATE). Returns the
    last seq taken, and the room's lock and slow-mode settings. RETURNING: SQLite 3.35+ and
    PostgreSQL; the ORM's update() cannot return values."""
    table = Room._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + %s, last_activity = %s WHERE id = %s "
            "RETURNING last_seq, locked, slow_mode_seconds",
            [count, connection.ops.adapt_datetimefield_value(now), room.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Room.DoesNotExist(f"room {room.pk} is gone")
    return int(row[0]), bool(row[1]), int(row[2])


def _give_back_seqs(room: Room, last_seq: int) -> None:
    Room.objects.filter(pk=room.pk).update(last_seq=last_seq)


def _post_refusal(
    room: Room, user: AbstractBaseUser, now: datetime, *, locked: bool, slow_mode: int
) -> tuple[ChatError | None, bool]:
    """Why the user may not post now (banned or muted, a locked room, or too soon in slow
    mode) or None, and whether slow mode applies to them. Runs under the room lock, so two
    tabs of one user cannot both slip through."""
    member = permissions.membership(room, user)
    if member is not None and member.is_banned(now):
        return Forbidden("You are banned from this room."), False
    if member is not None and member.is_muted(now):
        until = member.muted_until
        return Forbidden(
            f"You are muted in this room until {until:%Y-%m-%d %H:%M} UTC.",
            until=until.isoformat(),
        ), False
    if not (locked or slow_mode) or permissions.rank(room, user, member) >= permissions.MODERATOR:
        return None, False
    if locked:
        return Forbidden("This room is locked: only moderators can post."), False
    last = (
        Message.objects.filter(
            room_id=room.pk, author_id=user.pk, created_at__gt=now - timedelta(seconds=slow_mode)
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None:
        return _slow_mode_error(slow_mode, slow_mode - (now - last).total_seconds()), True
    return None, True


def _slow_mode_error(slow_mode: int, wait: float) -> ChatError:
    return RateLimited(
        f"Slow mode is on: one message every {slow_mode} s.",
        retry_after=math.ceil(wait * 10) / 10,
    )


def _find_resends(
    room: Room, user: AbstractBaseUser, client_ids: Iterable[str | None]
) -> dict[str, Message]:
    wanted = {client_id for client_id in client_ids if client_id}
    if not wanted:
        return {}
    found = Message.objects.filter(room=room, author=user, client_id__in=wanted)
    return {message.client_id: message for message in found.select_related("author")}


def _result(message: Message, *, created: bool) -> PostResult:
    return PostResult(message=message, created=created, frame=protocol.message_frame(message))


# --- moderation -------------------------------------------------------------------------
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
def delete_message(
    *, room: Room, actor: AbstractBaseUser, seq: int, reason: str = ""
) -> tuple[Message, Events]:
    """Soft-delete message `seq` (its author or a moderator): the body is blanked, the seq
    stays taken, and the room hears `message_deleted`. Deleting it again changes nothing."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("author")
            .filter(room_id=room.pk, seq=seq)
            .first()
        )
        if message is None:
            raise BadRequest(f"There is no message {seq} in this room.")
        if message.author_id != actor.pk:
            _require_moderator(room, actor)
        if message.deleted_at is not None:
            return message, []
        message.body = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "deleted_at"])
        _audit(actor, "delete", room, target=message.author, seq=seq, reason=reason)
    return message, [fanout.room_event(room.slug, protocol.message_deleted_frame(seq))]


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
) -> tuple[Membership, Events]:
    """The shape of every action on a user: check ranks, set `changes` on their membership,
    log it, and (ban, kick) close their sockets in the room on every process.

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
    if not close:
        return member, []
    event = fanout.close_event(code=CloseCode.REMOVED, user_id=member.user_id, room=room.slug)
    return member, [event]


@service
def ban_user(
    *,
    room: Room,
    actor: AbstractBaseUser,
    user: AbstractBaseUser | str,
    reason: str = "",
    minutes: int | None = None,
) -> tuple[Membership, Events]:
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
) -> tuple[Membership, Events]:
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
) -> tuple[Membership, Events]:
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
) -> tuple[Membership, Events]:
    """Lift a user's mute (one that staff imposed needs staff, the owner's the owner)."""
    changes = {"muted_until": None}
    return _act_on_user(
        room, actor, user, "unmute", changes=changes, reason=reason, restriction="mute", lift=True
    )


@service
def kick_user(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, reason: str = ""
) -> tuple[Membership, Events]:
    """Close the user's sockets in the room now (4403); they may come back."""
    return _act_on_user(room, actor, user, "kick", changes={}, reason=reason, close=True)


@service
def set_role(
    *, room: Room, actor: AbstractBaseUser, user: AbstractBaseUser | str, role: str
) -> tuple[Membership, Events]:
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
    reason: str = "",
) -> tuple[Room, Events]:
    """Lock or unlock the room, set its slow mode (seconds, 0 = off) or its title; everyone
    in the room hears `room_updated`."""
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
        if not changes:
            return room, []
        room.save(update_fields=["locked", "slow_mode_seconds", "title"])
        for action, detail in changes:
            _audit(actor, action, room, reason=reason, detail=detail)
    return room, [fanout.room_event(room.slug, protocol.room_updated_frame(room))]


@service
def delete_room(*, room: Room, actor: AbstractBaseUser, reason: str = "") -> tuple[None, Events]:
    """Delete a room and all its messages (staff only); its open sockets close with 4404."""
    if permissions.rank(room, actor) < permissions.STAFF:
        raise _forbidden("Only staff may delete rooms.")
    with transaction.atomic():
        _audit(actor, "delete_room", None, reason=reason, detail=room.slug)
        Room.objects.filter(pk=room.pk).delete()
    return None, [fanout.close_event(code=CloseCode.ROOM_DELETED, room=room.slug)]


@service
def report_message(
    *, room: Room, reporter: AbstractBaseUser, seq: int, reason: str
) -> tuple[Report, Events]:
    """Queue a report of message `seq` for the moderators. Reporting it again changes
    nothing."""
    reason = reason.strip()[: protocol.REASON_MAX]
    if not reason:
        raise BadRequest("Say why you report this message.")
    message = Message.objects.filter(room_id=room.pk, seq=seq).first()
    if message is None or message.deleted_at is not None:
        raise BadRequest(f"There is no message {seq} in this room.")
    report, created = Report.objects.get_or_create(
        message=message, reporter=reporter, defaults={"reason": reason, "body": message.body}
    )
    if created:
        log.info("report room=%s seq=%d by=%s", room.slug, seq, reporter.get_username())
    return report, []


@service
def resolve_report(
    *, report: Report, actor: AbstractBaseUser, note: str = ""
) -> tuple[Report, Events]:
    """Mark a report handled (whatever was done about it is logged by its own action)."""
    with transaction.atomic():
        report = (
            Report.objects.select_for_update().select_related("message__room").get(pk=report.pk)
        )
        room = report.message.room
        _require_moderator(room, actor)
        if report.resolved_at is not None:
            return report, []
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
    return report, []


# --- accounts ---------------------------------------------------------------------------


@service
def disconnect_user(*, user: AbstractBaseUser) -> tuple[None, Events]:
    """Close all of a user's sockets, in every room on every process (logout, deactivation)."""
    return None, [fanout.close_event(code=CloseCode.REMOVED, user_id=user.pk)]


@service
def deactivate_user(
    *, actor: AbstractBaseUser, user: AbstractBaseUser, reason: str = ""
) -> tuple[None, Events]:
    """Deactivate an account (staff only): it can no longer log in, and its sockets close."""
    allowed = actor.is_staff and actor.is_active and user.pk != actor.pk
    if not allowed or (user.is_superuser and not actor.is_superuser):
        raise _forbidden("You may not deactivate this user.")
    with transaction.atomic():
        # update(), not save(): the post_save hook would publish the close a second time.
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        _audit(actor, "deactivate", None, target=user, reason=reason)
    user.is_active = False
    return None, [fanout.close_event(code=CloseCode.REMOVED, user_id=user.pk)]
