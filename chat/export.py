"""A room's transcript, streamed: JSON (the protocol's message objects, as they are now:
edits, deletions and reactions included) or plain text. Constant memory whatever the size
of the room: keyset pages of the history, each written out before the next is read. The
page's download (chat/views.py) and `manage.py export_room` both use it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from . import protocol, selectors
from .models import Room

PAGE = 2000
FORMATS = ("json", "text")


def pages(room: Room) -> Iterator[list[tuple]]:
    """The room's messages, oldest first, a keyset page at a time, as wire rows
    (selectors.message_rows)."""
    after = 0
    while True:
        rows = selectors.message_rows(room, after, PAGE)
        if rows:
            yield rows
            after = rows[-1][0]
        if len(rows) < PAGE:
            return


def as_json(room: Room, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """`{"room": {...}, "exported_at": "...", "messages": [...]}`, in pieces; each message
    is what protocol.message_object makes of it, written by protocol.message_json."""
    head = {"room": protocol.room_data(room), "exported_at": _now()}
    yield protocol.encode(head)[:-1] + ',"messages":['
    first = True
    for page in pages(room):
        chunk = ",".join([protocol.message_json(*row) for row in page])
        yield chunk if first else "," + chunk
        first = False
        if progress is not None:
            progress(len(page))
    yield "]}\n"


def as_text(room: Room, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """One line per message (continued lines indented), for people."""
    yield f"# {room.title} ({room.slug}), exported {_now()}\n"
    for page in pages(room):
        yield "".join(map(_line, page))
        if progress is not None:
            progress(len(page))


def _line(row: tuple) -> str:
    """A wire row (selectors.message_rows) as the transcript's line."""
    seq, user, body, ts, _client_id, edited_ts, deleted_ts, _html, _, reply_to, reactions = row
    head = f"[{ts[:10]} {ts[11:19]}] #{seq} {user}"
    if deleted_ts is not None:
        return f"{head}: (deleted)\n"
    body = body.replace("\n", "\n    ")
    marks = " (edited)" if edited_ts is not None else ""
    if reply_to is not None:
        marks += f" (reply to #{reply_to})"
    line = f"{head}{marks}: {body}\n"
    if reactions != "[]":
        for reaction in json.loads(reactions) if isinstance(reactions, str) else reactions:
            line += f"    {reaction['emoji']} {', '.join(reaction['users'])}\n"
    return line


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def stream(room: Room, fmt: str, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    return (as_json if fmt == "json" else as_text)(room, progress)
