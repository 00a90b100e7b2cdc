"""The command registry: every client command, what handles it, who may send it, and on
which sockets.

A frame goes: parsed by its parser (chat/protocol.py `PARSERS`, by "type") → handled by its
entry here (which calls one service and sends the answer built by chat/protocol.py) → the
service checks the policy (chat/permissions.py) and publishes what it changed. The consumer
knows no command by name.

`rank` is the least rank that may send the command (the service enforces it; the page reads
it from the registry, through `page_commands`, to know which controls to show). `home`: the
command also works on the home socket `ws/chat/`, which has no room.

Adding a command: a parser and an answer builder in chat/protocol.py, a service, and an
entry here (docs/architecture.md shows one).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.db import Error as DatabaseError

from . import metrics, permissions, protocol, selectors, services
from .models import Room


class Socket(Protocol):
    """What a handler gets: the socket's room (None on the home socket), its user, and the
    bounded way to answer it."""

    room: Room | None
    user: Any

    async def answer(self, text: str) -> None: ...


Handler = Callable[[Socket, Any], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    handle: Handler
    rank: int = permissions.MEMBER
    home: bool = False


# --- handlers ---------------------------------------------------------------------------


async def post(sock: Socket, batch: list[protocol.Post]) -> None:
    """Store a batch of one socket's posts (group commit). Their `message` frames reach
    every socket, this one included, through the fan-out; a refusal or a resend is answered
    here, to the sender only, in order."""
    started = time.perf_counter()
    try:
        outcomes = await services.post_messages.acall(room=sock.room, user=sock.user, posts=batch)
    except DatabaseError:
        metrics.DATABASE_ERRORS.inc()
        outcomes = [services.not_stored() for _ in batch]
    else:
        metrics.POST_SECONDS.labels("published").observe(time.perf_counter() - started)
    for post_, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, services.PostResult):
            if not outcome.created:
                await sock.answer(outcome.frame)  # a resend: only the sender hears of it again
        else:
            if post_.client_id is not None:
                outcome.extra.setdefault("client_id", post_.client_id)
            metrics.REFUSED.labels(outcome.code).inc()
            await sock.answer(protocol.error_frame(outcome))


async def history(sock: Socket, command: protocol.History) -> None:
    if command.after is not None:
        page = database_sync_to_async(selectors.messages_after)
        rows, has_more = await page(sock.room, command.after, command.limit)
    else:
        page = database_sync_to_async(selectors.messages_before)
        rows, has_more = await page(sock.room, command.before, command.limit)
    rows, cut = protocol.fit_frame(rows, keep_newest=command.after is None)
    await sock.answer(protocol.history_frame(rows, has_more or cut))


async def ping(sock: Socket, command: protocol.Ping) -> None:
    if sock.room is None:
        await sock.answer(protocol.PONG)
        return
    try:
        last_seq = await database_sync_to_async(selectors.last_seq)(sock.room.slug)
    except DatabaseError:
        last_seq = None  # the heartbeat answers even when the database does not
    await sock.answer(protocol.pong_frame(last_seq))


async def delete(sock: Socket, command: protocol.Delete) -> None:
    await services.delete_message.acall(
        room=sock.room, actor=sock.user, seq=command.seq, reason=command.reason
    )
    await sock.answer(protocol.ok_frame("delete", seq=command.seq))


async def report(sock: Socket, command: protocol.Report) -> None:
    await services.report_message.acall(
        room=sock.room, reporter=sock.user, seq=command.seq, reason=command.reason
    )
    await sock.answer(protocol.ok_frame("report", seq=command.seq))


async def user_action(sock: Socket, command: protocol.Moderate) -> None:
    kwargs: dict[str, Any] = {"room": sock.room, "actor": sock.user, "user": command.user}
    if command.action in services.TIMED_ACTIONS:
        kwargs["minutes"] = command.minutes
    await services.USER_ACTIONS[command.action].acall(**kwargs, reason=command.reason)
    await sock.answer(protocol.ok_frame(command.action, user=command.user))


async def room_settings(sock: Socket, command: protocol.RoomSettings) -> None:
    updated = sock.room
    if command.private is not None:  # the owner's alone: checked before anything changes
        await database_sync_to_async(services.check_private_change)(sock.room, sock.user)
    if (command.locked, command.slow_mode, command.topic) != (None, None, None):
        updated = await services.update_room.acall(
            room=sock.room,
            actor=sock.user,
            locked=command.locked,
            slow_mode=command.slow_mode,
            topic=command.topic,
        )
    if command.private is not None:
        updated = await services.set_private.acall(
            room=updated, actor=sock.user, private=command.private
        )
    await sock.answer(protocol.ok_frame("room_settings", room=protocol.room_data(updated)))


async def member(sock: Socket, command: protocol.Member) -> None:
    action = services.invite if command.action == "invite" else services.remove_member
    await action.acall(room=sock.room, actor=sock.user, user=command.user)
    await sock.answer(protocol.ok_frame(command.action, user=command.user))


async def leave(sock: Socket, command: protocol.Leave) -> None:
    await services.leave_room.acall(room=sock.room, user=sock.user)
    # The close (4403) comes through the fan-out, a turn of the event loop after this.
    await sock.answer(protocol.ok_frame("leave", room=sock.room.slug))


async def open_dm(sock: Socket, command: protocol.OpenDm) -> None:
    room = await services.open_dm.acall(user=sock.user, other=command.user)
    await sock.answer(protocol.ok_frame("open_dm", room=room.slug))


async def create_invitation(sock: Socket, command: protocol.CreateInvitation) -> None:
    invitation, token = await services.create_invitation.acall(
        room=sock.room, actor=sock.user, hours=command.hours
    )
    await sock.answer(protocol.invitation_frame(invitation, token))


async def revoke_invitation(sock: Socket, command: protocol.RevokeInvitation) -> None:
    await services.revoke_invitation.acall(
        room=sock.room, actor=sock.user, invitation_id=command.id
    )
    await sock.answer(protocol.ok_frame("revoke_invitation", id=command.id))


async def read(sock: Socket, command: protocol.Read) -> None:
    # No answer: the user's sockets (this one too) get an `unread` frame when it rises.
    await services.mark_read.acall(room=sock.room, user=sock.user, seq=command.seq)


async def typing(sock: Socket, command: protocol.Typing) -> None:
    # No answer either: the others in the room see it, or (too often) nobody does.
    await services.announce_typing(room=sock.room, user=sock.user)


async def edit(sock: Socket, command: protocol.Edit) -> None:
    await services.edit_message.acall(
        room=sock.room, user=sock.user, seq=command.seq, body=command.body, rate_limit=True
    )
    await sock.answer(protocol.ok_frame("edit", seq=command.seq))


async def react(sock: Socket, command: protocol.React) -> None:
    _, on = await services.toggle_reaction.acall(
        room=sock.room, user=sock.user, seq=command.seq, emoji=command.emoji, rate_limit=True
    )
    await sock.answer(protocol.ok_frame("react", seq=command.seq, emoji=command.emoji, on=on))


# --- the registry -----------------------------------------------------------------------

REGISTRY: dict[str, Command] = {
    command.name: command
    for command in (
        Command("message", post),
        Command("history", history),
        Command("ping", ping, home=True),
        Command("delete", delete),  # the author, or a moderator (the service decides)
        Command("report", report),
        *(Command(name, user_action, rank=permissions.MODERATOR) for name in protocol.USER_ACTIONS),
        Command("room_settings", room_settings, rank=permissions.MODERATOR),
        Command("read", read),
        Command("typing", typing),
        Command("invite", member, rank=permissions.MODERATOR),
        Command("remove", member, rank=permissions.MODERATOR),
        Command("leave", leave),
        Command("open_dm", open_dm, home=True),
        Command("create_invitation", create_invitation, rank=permissions.MODERATOR),
        Command("revoke_invitation", revoke_invitation, rank=permissions.MODERATOR),
        Command("edit", edit),  # the author (the service decides)
        Command("react", react),
    )
}
# Every parsed type has a handler, and every handler a parser.
assert set(REGISTRY) == set(protocol.PARSERS), set(REGISTRY) ^ set(protocol.PARSERS)


def page_commands(rank: int) -> list[str]:
    """The commands a user of `rank` may send, for the page's scripts."""
    return sorted(name for name, command in REGISTRY.items() if rank >= command.rank)
