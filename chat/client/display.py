"""What the terminal client prints: readable lines, or one JSON message object per line.

Messages go to stdout; the client's own news (connected, reconnecting, a post refused) goes
to stderr, so `--json` output stays pure JSON lines and can be piped.
"""

from __future__ import annotations

import json
import re
import sys
from collections import OrderedDict
from datetime import date, datetime, tzinfo
from typing import Any, TextIO

Message = dict[str, Any]

KEEP = 5000  # messages remembered for edits, deletions and reactions to refer to

# C0/C1 controls (ESC starts terminal escape sequences: another user's body must not move
# our cursor or retitle the window) and bidi overrides (which reorder what is shown).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: Any) -> str:
    """Text from the server, safe to write to a terminal: controls shown as escapes."""
    return _UNSAFE.sub(_escape, str(text))


def local_time(ts: Any, tz: tzinfo | None = None) -> datetime | None:
    """A message's `ts` (ISO 8601, UTC) in the local time zone (or `tz`)."""
    try:
        return datetime.fromisoformat(str(ts)).astimezone(tz)
    except ValueError:
        return None


def clock(ts: Any, tz: tzinfo | None = None) -> str:
    when = local_time(ts, tz)
    return when.strftime("%H:%M") if when else "--:--"


def summary(body: str, width: int = 30) -> str:
    """A message quoted in one short line."""
    line = " ".join(body.split())
    return clean(line if len(line) <= width else line[: width - 1] + "…")


def reaction_text(reactions: Any) -> str:
    """`👍 2, 🎉 1`: each emoji and how many reacted with it."""
    parts = []
    for r in reactions if isinstance(reactions, list) else []:
        if isinstance(r, dict):
            parts.append(f"{clean(r.get('emoji', '?'))} {len(r.get('users') or [])}")
    return ", ".join(parts)


def format_message(m: Message, tz: tzinfo | None = None, reply_author: str | None = None) -> str:
    """`[10:15] alice: hello`, with `(re bob)` for a reply, `(edited)`, `(deleted)` and the
    reactions; a body's later lines are indented under its first."""
    head = f"[{clock(m.get('ts'), tz)}] {clean(m.get('user', '?'))}"
    if m.get("reply_to"):
        head += f" (re {clean(reply_author)})" if reply_author else f" (re #{m['reply_to']})"
    if m.get("deleted"):
        return f"{head}: (deleted)"
    prefix = f"{head}: "
    lines = clean(m.get("body", "")).split("\n")
    text = prefix + ("\n" + " " * len(prefix)).join(lines)
    if m.get("edited_ts"):
        text += " (edited)"
    if m.get("reactions"):
        text += f"  [{reaction_text(m['reactions'])}]"
    return text


def format_change(what: str, m: Message, was: str = "", tz: tzinfo | None = None) -> str:
    """A change to an earlier message (`m` as it is now; `was`: its body before), on a line
    of its own starting with `*`."""
    who = f"[{clock(m.get('ts'), tz)}] {clean(m.get('user', '?'))}"
    if what == "edited":
        return f"* edited {who}: " + clean(m.get("body", "")).replace("\n", " / ")
    if what == "deleted":
        return f'* deleted {who}: "{summary(was)}"'
    reactions = reaction_text(m.get("reactions")) or "none"
    return f'* reactions {who} "{summary(m.get("body", ""))}": {reactions}'


class Transcript:
    """The messages shown lately, by seq, as they are now. A change is reported only when it
    changes something: a resume replays the edits and reactions of messages already seen."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.messages: OrderedDict[int, Message] = OrderedDict()

    def add(self, m: Message) -> None:
        self.messages[m["seq"]] = dict(m)
        while len(self.messages) > self.keep:
            self.messages.popitem(last=False)

    def get(self, seq: Any) -> Message | None:
        return self.messages.get(seq) if isinstance(seq, int) else None

    def update(self, new: Message) -> tuple[str, Message, str] | None:
        """Take a newer view of a shown message: (what changed: "edited", "deleted" or
        "reactions"; the message now; its body before), or None if nothing we show did."""
        old = self.get(new.get("seq"))
        if old is None:
            return None
        was = old.get("body", "")
        if new.get("deleted"):
            what = "deleted" if not old.get("deleted") else None
        elif (new.get("body"), new.get("edited_ts")) != (old.get("body"), old.get("edited_ts")):
            what = "edited"
        elif "reactions" in new and new["reactions"] != old.get("reactions"):
            what = "reactions"
        else:
            what = None
        if what is None:
            return None
        old.update(new)
        return what, old, was


class Display:
    """Readable lines: `[10:15] alice: hello`, and a `--- date ---` line when the day
    changes."""

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, tz: tzinfo | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tz = tz
        self.transcript = Transcript()
        self._day: date | None = None

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    def show(self, m: Message) -> None:
        """A message displayed for the first time, in seq order."""
        when = local_time(m.get("ts"), self.tz)
        if when and when.date() != self._day:
            self._day = when.date()
            self._write(self.out, f"--- {when:%a %d %b %Y} ---")
        original = self.transcript.get(m.get("reply_to"))
        self.transcript.add(m)
        self._write(self.out, format_message(m, self.tz, original and original.get("user")))

    def change(self, m: Message) -> None:
        """A newer view of a message already shown: a line only if it changes something."""
        changed = self.transcript.update(m)
        if changed:
            what, now, was = changed
            self._write(self.out, format_change(what, now, was, self.tz))

    def status(self, text: str) -> None:
        """The client's own news (stderr)."""
        self._write(self.err, f"-- {text}")


class JsonDisplay(Display):
    """`--json`: one message object per line (the protocol's, as the server sent it). Each
    seq comes first in seq order, exactly once; the same seq again later is that message
    as it is now, after an edit, a deletion or a change of its reactions."""

    def show(self, m: Message) -> None:
        self.transcript.add(m)
        self._write(self.out, json.dumps(m, ensure_ascii=False))

    def change(self, m: Message) -> None:
        changed = self.transcript.update(m)
        if changed:
            self._write(self.out, json.dumps(changed[1], ensure_ascii=False))
