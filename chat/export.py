"""A room's transcript, streamed: JSON (the protocol's message objects, as they are now:
edits, deletions and reactions included) or plain text. Constant memory whatever the size
of the room: keyset pages of the history, each written out before the next is read. The
page's download (chat/views.py) and `manage.py export_room` both use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from . import protocol, selectors
from .models import Message, Room

PAGE = 2000
FORMATS = ("json", "text")


def pages(room: Room) -> Iterator[list[Message]]:
    """The room's messages, oldest first, a keyset page at a time."""
    after = 0
    while True:
        rows, more = selectors.messages_after(room, after, PAGE)
        if rows:
            yield rows
            after = rows[-1].seq
        if not more:
            return


def as_json(room: Room, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """`{"room": {...}, "exported_at": "...", "messages": [...]}`, in pieces."""
    head = {"room": protocol.room_data(room), "exported_at": _now()}
    yield protocol.encode(head)[:-1] + ',"messages":['
    first = True
    for rows in pages(room):
        chunk = ",".join(protocol.encode(protocol.message_data(m)) for m in rows)
        yield chunk if first else "," + chunk
        first = False
        if progress is not None:
            progress(len(rows))
    yield "]}\n"


def as_text(room: Room, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """One line per message (continued lines indented), for people."""
    yield f"# {room.title} ({room.slug}), exported {_now()}\n"
    for rows in pages(room):
        yield "".join(_line(m) for m in rows)
        if progress is not None:
            progress(len(rows))


def _line(message: Message) -> str:
    when = message.created_at.strftime("%Y-%m-%d %H:%M:%S")
    who = message.author.get_username()
    if message.deleted_at is not None:
        return f"[{when}] #{message.seq} {who}: (deleted)\n"
    body = message.body.replace("\n", "\n    ")
    marks = " (edited)" if message.edited_at is not None else ""
    if message.reply_to is not None:
        marks += f" (reply to #{message.reply_to})"
    line = f"[{when}] #{message.seq} {who}{marks}: {body}\n"
    for reaction in message.reactions:
        line += f"    {reaction['emoji']} {', '.join(reaction['users'])}\n"
    return line


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def stream(room: Room, fmt: str, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    return (as_json if fmt == "json" else as_text)(room, progress)
