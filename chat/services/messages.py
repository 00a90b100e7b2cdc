"""Posting: the one write path of a message, a gapless per-room seq, group commit."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import fanout, formatting, metrics, permissions, protocol, ratelimit
from ..errors import (
    BadRequest,
    ChatError,
    Empty,
    Forbidden,
    RateLimited,
    TooLong,
    Unavailable,
)
from ..models import Message, Room
from . import mentions, reads
from .base import emit, service

log = logging.getLogger("chat")


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
    *,
    room: Room,
    user: AbstractBaseUser,
    body: str,
    client_id: str | None = None,
    rate_limit: bool = False,
) -> PostResult:
    """Store one message with the room's next seq, then broadcast it. Raises ChatError when
    it is refused. A resend of a stored client_id returns the stored message (created
    False) and stores nothing. Not rate-limited unless asked (seeds, the admin, scripts)."""
    [outcome] = post_messages(
        room=room, user=user, posts=[protocol.Post(body, client_id)], rate_limit=rate_limit
    )
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


@service
def post_messages(
    *, room: Room, user: AbstractBaseUser, posts: Sequence[protocol.Post], rate_limit: bool = True
) -> list[Outcome]:
    """Store one user's posts in one transaction (group commit), then broadcast them.

    A socket's posts that arrive while the previous ones are being stored come here
    together: one lock of the room, one permission check and one INSERT for all of them,
    instead of a transaction each. Returns an outcome per post, in order: its PostResult
    (created False for a resend of a stored client_id), or the ChatError refusing it.

    The room row is locked for the transaction (SQLite: BEGIN IMMEDIATE locks the whole
    database), so seqs are gapless and follow commit order. With `rate_limit` (what a
    socket or an API call gets), each post takes a token of the user's bucket first.
    """
    started = time.perf_counter()
    outcomes: list[Outcome | None] = [None] * len(posts)
    bodies: dict[int, str] = {}
    for i, post in enumerate(posts):
        try:
            bodies[i] = clean_body(post.body)
        except ChatError as err:
            outcomes[i] = err
    if rate_limit and bodies:
        _take_tokens(room, user, posts, bodies, outcomes)
    if not bodies:
        return _done(outcomes)
    # Rendered once, here, before the room is locked (docs/protocol.md "Rich messages").
    lookup = mentions.Lookup(room)
    rendered = {i: formatting.render(body, lookup) for i, body in bodies.items()}
    batch = _Batch(posts, bodies, rendered, outcomes, lookup)
    try:
        with transaction.atomic():
            stored = _store(room, user, batch, look_up_resends=False)
    except IntegrityError:
        # A client_id is stored already: a resend (the client reconnected before it heard
        # back). Looking resends up before every insert would cost a query per batch for
        # what is rare; the unique constraint finds them, and the batch goes again knowing
        # them. Under the room lock nothing can race the second try.
        with transaction.atomic():
            stored = _store(room, user, batch, look_up_resends=True)
    if not stored:
        return _done(outcomes)
    metrics.POSTS.inc(len(stored))
    metrics.POST_SECONDS.labels("stored").observe(time.perf_counter() - started)
    first, last = stored[0].message.seq, stored[-1].message.seq
    room.last_seq = last
    log.info("post room=%s user=%s seq=%d..%d", room.slug, user.get_username(), first, last)
    messages = [(r.message.seq, r.frame) for r in stored]
    emit(fanout.messages_event(room.slug, messages), fanout.activity_event(room.slug))
    if room.is_dm:
        _notify_dm(room, user, [r.message for r in stored])
    for result in stored:
        mentions.notify(room, result.message, batch.mentioned.get(result.message.seq, ()))
    return _done(outcomes)


@dataclass
class _Batch:
    """One post_messages call's posts on their way through the transaction."""

    posts: Sequence[protocol.Post]
    bodies: dict[int, str]  # by index in posts: the cleaned bodies still to store
    rendered: dict[int, formatting.Rendered]
    outcomes: list[Outcome | None]
    lookup: mentions.Lookup
    mentioned: dict[int, list[int]] = field(default_factory=dict)  # seq -> user ids


def _notify_dm(room: Room, user: AbstractBaseUser, messages: list[Message]) -> None:
    """A direct message is a `notification` of kind dm for the other side."""
    others = room.memberships.filter(joined_at__isnull=False).exclude(user_id=user.pk)
    for other in others.values_list("user_id", flat=True):
        for message in messages:
            emit(fanout.user_event(other, protocol.notification_frame("dm", room.slug, message)))


def _take_tokens(
    room: Room,
    user: AbstractBaseUser,
    posts: Sequence[protocol.Post],
    bodies: dict[int, str],
    outcomes: list[Outcome | None],
) -> None:
    """The per-user rate limit (chat/ratelimit.py, shared by every process, socket and API
    call): a post over it is refused, unless it is the resend of a stored client_id, which
    is no new message, so a client resending its outbox after a reconnect is answered at
    once (the resend is found in the transaction)."""
    refused: dict[int, ChatError] = {}
    for i in list(bodies):
        try:
            ratelimit.take_post(user.pk)
        except RateLimited as err:
            refused[i] = err
    if not refused:
        return
    stored = _find_resends(room, user, [posts[i].client_id for i in refused])
    for i, err in refused.items():
        if posts[i].client_id not in stored:
            outcomes[i] = err
            del bodies[i]


def not_stored() -> ChatError:
    """The answer to a post the database could not store."""
    return Unavailable("The message could not be stored; retry with the same client_id.")


def _store(
    room: Room, user: AbstractBaseUser, batch: _Batch, *, look_up_resends: bool
) -> list[PostResult]:
    """The body of post_messages' transaction: fill the batch's outcomes and return the
    results of the messages stored, in seq order."""
    posts, bodies, outcomes = batch.posts, batch.bodies, batch.outcomes
    now = timezone.now()
    last_seq, locked, slow_mode = _take_seqs(room, now, len(bodies))
    before = last_seq - len(bodies)  # the room's last seq before this batch
    refusal, slowed = post_refusal(room, user, now, locked=locked, slow_mode=slow_mode)
    resends: dict[str, Message] = {}
    if look_up_resends or refusal is not None:  # a refused user's resend still gets its copy
        resends = _find_resends(room, user, [posts[i].client_id for i in bodies])
    accepted: list[tuple[int, Message]] = []
    fresh: dict[str, Message] = {}  # client_id -> message stored by this batch
    for i, body in bodies.items():
        client_id, reply_to = posts[i].client_id, posts[i].reply_to
        earlier = (resends.get(client_id) or fresh.get(client_id)) if client_id else None
        if earlier is not None:
            outcomes[i] = _result(earlier, created=False)
        elif refusal is not None:
            outcomes[i] = refusal
        elif reply_to is not None and reply_to > before:
            outcomes[i] = BadRequest(f"There is no message {reply_to} in this room to reply to.")
        else:
            rendered = batch.rendered[i]
            message = Message(
                room=room,
                author=user,
                body=body,
                client_id=client_id,
                html=rendered.html,
                mentions=rendered.mentions,
                reply_to=reply_to,
            )
            accepted.append((i, message))
            if client_id:
                fresh[client_id] = message
            if slowed:  # one message per slow-mode interval: the rest of the batch waits
                refusal = _slow_mode_error(slow_mode, slow_mode)
    if not accepted:
        transaction.set_rollback(True)  # nothing stored: the seqs taken go back
        return []
    first_seq = before + 1
    if len(accepted) < len(bodies):
        _give_back_seqs(room, first_seq + len(accepted) - 1)  # gapless: unused seqs return
    for offset, (_, message) in enumerate(accepted):
        message.seq = first_seq + offset
    Message.objects.bulk_create([message for _, message in accepted])
    reads.count_own_posts(room, user, len(accepted))  # never unread to their author
    batch.mentioned = mentions.count_posted(room, [m for _, m in accepted], batch.lookup)
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
            "RETURNING last_seq, locked, slow_mode_seconds, private",
            [count, connection.ops.adapt_datetimefield_value(now), room.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Room.DoesNotExist(f"room {room.pk} is gone")
    room.private = bool(row[3])  # as it is now, for the membership check
    return int(row[0]), bool(row[1]), int(row[2])


def _give_back_seqs(room: Room, last_seq: int) -> None:
    Room.objects.filter(pk=room.pk).update(last_seq=last_seq)


def post_refusal(
    room: Room, user: AbstractBaseUser, now: datetime, *, locked: bool, slow_mode: int
) -> tuple[ChatError | None, bool]:
    """Why the user may not post now (banned or muted, a locked room, or too soon in slow
    mode) or None, and whether slow mode applies to them. Runs under the room lock, so two
    tabs of one user cannot both slip through."""
    member = permissions.membership(room, user)
    if permissions.is_banned(room, user, now, member):
        return Forbidden("You are banned from this room."), False
    if not permissions.can_see(room, user, member):  # removed while the socket closes
        return Forbidden("You are not a member of this room."), False
    if member is not None and member.is_muted(now):
        until = member.muted_until
        return Forbidden(
            f"You are muted in this room until {until:%Y-%m-%d %H:%M} UTC.",
            until=until.isoformat(),
        ), False
    if not (locked or slow_mode) or permissions.can_moderate(room, user, member):
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


def locked_message(room: Room, seq: int) -> Message:
    """Message `seq` of `room`, locked for the transaction (edits, reactions, deletions),
    or bad_request when the room has none."""
    message = (
        Message.objects.select_for_update()
        .select_related("author")
        .filter(room_id=room.pk, seq=seq)
        .first()
    )
    if message is None:
        raise BadRequest(f"There is no message {seq} in this room.")
    return message


def check_may_post(room: Room, user: AbstractBaseUser, now: datetime) -> None:
    """Refuse what a user who may not post now (banned, muted, removed, a locked room)
    does to messages (edits, reactions): the post path's own rule, slow mode aside."""
    row = Room.objects.filter(pk=room.pk).values_list("locked", "private").first()
    if row is None:
        raise Room.DoesNotExist(f"room {room.pk} is gone")
    locked, room.private = row
    refusal, _ = post_refusal(room, user, now, locked=locked, slow_mode=0)
    if refusal is not None:
        raise refusal
