"""The wire protocol (docs/protocol.md): parsing client frames and building server frames.

Every frame the server sends is built here, once, as text; the broadcast path only ever
forwards that text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs

import emoji
from django.conf import settings

from .errors import ChatError, TooLong, bad_request

if TYPE_CHECKING:
    from .models import Message, Room

log = logging.getLogger("chat")

SLUG_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")
CLIENT_ID_MAX = 64
HISTORY_DEFAULT = 50
HISTORY_MAX = 100
WELCOME_PAGE = 50
RESUME_MAX = 500
# Bytes of messages in one welcome or history frame. A page of long bodies could otherwise
# pass 1 MiB, the default frame limit of most WebSocket clients (and of Daphne's reads).
FRAME_BUDGET = 512 * 1024
SEQ_MAX = 2**63 - 1  # the largest number the database's seq column (a bigint) holds


def normalize_slug(raw: object) -> str | None:
    """The room slug for `raw` (lowercased), or None when it is not a valid slug."""
    if isinstance(raw, str) and SLUG_RE.fullmatch(raw):
        return raw.lower()
    return None


# --- client to server -------------------------------------------------------------------


# Each parsed command has the `name` of its registry entry (chat/commands.py).


@dataclass(frozen=True, slots=True)
class Post:
    body: str
    client_id: str | None = None
    reply_to: int | None = None  # the seq this post answers
    name = "message"


@dataclass(frozen=True, slots=True)
class History:
    before: int | None
    after: int | None
    limit: int
    name = "history"


@dataclass(frozen=True, slots=True)
class Ping:
    name = "ping"


# Moderation commands (docs: "Moderation"). A refusal is an `error` frame; success is an
# `ok` frame to the sender plus whatever the action broadcasts.
REASON_MAX = 500
MINUTES_MAX = 366 * 24 * 60
MUTE_DEFAULT_MINUTES = 10
USER_ACTIONS = ("mute", "unmute", "ban", "unban", "kick")


@dataclass(frozen=True, slots=True)
class Delete:
    seq: int
    reason: str = ""
    name = "delete"


@dataclass(frozen=True, slots=True)
class Report:
    seq: int
    reason: str
    name = "report"


@dataclass(frozen=True, slots=True)
class Moderate:
    action: str  # one of USER_ACTIONS
    user: str
    minutes: int | None  # mute: default MUTE_DEFAULT_MINUTES; ban: None is forever
    reason: str = ""

    @property
    def name(self) -> str:
        return self.action


@dataclass(frozen=True, slots=True)
class RoomSettings:
    locked: bool | None = None
    slow_mode: int | None = None
    topic: str | None = None
    private: bool | None = None
    name = "room_settings"


TOPIC_MAX = 200


# Room life (docs/protocol.md, "Presence and typing", "Read markers").
@dataclass(frozen=True, slots=True)
class Read:
    seq: int
    name = "read"


@dataclass(frozen=True, slots=True)
class Typing:
    name = "typing"


# Private rooms and direct conversations (docs/protocol.md, "Private rooms").
@dataclass(frozen=True, slots=True)
class Member:
    action: str  # "invite" or "remove"
    user: str

    @property
    def name(self) -> str:
        return self.action


@dataclass(frozen=True, slots=True)
class Leave:
    name = "leave"


@dataclass(frozen=True, slots=True)
class OpenDm:
    user: str
    name = "open_dm"


@dataclass(frozen=True, slots=True)
class CreateInvitation:
    hours: int
    name = "create_invitation"


@dataclass(frozen=True, slots=True)
class RevokeInvitation:
    id: int
    name = "revoke_invitation"


INVITATION_HOURS_DEFAULT = 7 * 24


# Rich messages (docs/protocol.md, "Rich messages").
REACTIONS_MAX = 20  # distinct emoji on one message
EMOJI_MAX = 64  # characters: the longest ZWJ sequences are about a dozen


@dataclass(frozen=True, slots=True)
class Edit:
    seq: int
    body: str
    name = "edit"


@dataclass(frozen=True, slots=True)
class React:
    seq: int
    emoji: str
    name = "react"


ModerationCommand = Delete | Report | Moderate | RoomSettings
MemberCommand = Member | Leave | OpenDm | CreateInvitation | RevokeInvitation
Command = Post | History | Ping | ModerationCommand | Read | Typing | MemberCommand | Edit | React


def parse_frame(text: str | None, data: bytes | None = None) -> Command:
    """Parse one client frame. Raises ChatError (with the client_id, if any) when it is bad."""
    if text is None:
        raise bad_request("Binary frames are not supported; send text.")
    limit = settings.CHAT_MAX_FRAME_BYTES
    if len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise TooLong(f"A frame may be at most {limit} bytes.")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
        obj = None
    if not isinstance(obj, dict):
        # Plain text (or any JSON that is not an object) is a message, exactly as typed.
        return Post(body=text)
    client_id, kind = obj.get("client_id"), obj.get("type")
    try:
        return _parse_command(obj)
    except ChatError as err:
        if _valid_client_id(client_id):
            err.extra.setdefault("client_id", client_id)
        if isinstance(kind, str) and kind in NAMES_COMMAND:
            err.extra.setdefault("command", kind)
        raise
    except Exception as exc:
        # A bug of ours, never the client's fault: any JSON value must get an answer. Logged
        # (so tests and operators see it), answered like any other malformed command.
        log.exception("parsing a frame failed")
        raise bad_request("That command could not be read.") from exc


Parser = Callable[[dict[str, Any]], Command]
# Every client command's parser, by "type" (chat/commands.py maps the same names to their
# handlers and checks at import that the two agree). `NAMES_COMMAND`: an error answering
# one of these names it in "command", so a client can tell it from the answer to a pending
# history request.
PARSERS: dict[str, Parser] = {}
NAMES_COMMAND: set[str] = set()


def parser(*names: str, names_command: bool = False) -> Callable[[Parser], Parser]:
    def register(parse: Parser) -> Parser:
        for name in names:
            PARSERS[name] = parse
            if names_command:
                NAMES_COMMAND.add(name)
        return parse

    return register


def _parse_command(obj: dict[str, Any]) -> Command:
    kind = obj.get("type")
    if not isinstance(kind, str):
        # Checked first: a "type" that is an object or a list is unhashable.
        raise bad_request('A command needs a "type" string.')
    parse = PARSERS.get(kind)
    if parse is None:
        raise bad_request(f"Unknown command type {kind[:40]!r}.")
    return parse(obj)


@parser("message")
def _parse_post(obj: dict[str, Any]) -> Post:
    body = obj.get("body")
    if not isinstance(body, str):
        raise bad_request('"body" must be a string.')
    client_id = obj.get("client_id")
    if client_id is not None and not _valid_client_id(client_id):
        raise bad_request(f'"client_id" must be a string of 1 to {CLIENT_ID_MAX} characters.')
    reply_to = obj.get("reply_to")
    if reply_to is not None and not _is_int(reply_to, minimum=1):
        raise bad_request('"reply_to" must be a message number (1 or more).')
    return Post(body=body, client_id=client_id, reply_to=reply_to)


@parser("history")
def _parse_history(obj: dict[str, Any]) -> History:
    before, after = obj.get("before"), obj.get("after")
    if before is not None and after is not None:
        raise bad_request('Give "before" or "after", not both.')
    for name, value in (("before", before), ("after", after)):
        if value is not None and not _is_int(value, minimum=0):
            raise bad_request(f'"{name}" must be a whole number of 0 or more.')
    limit = obj.get("limit", HISTORY_DEFAULT)
    if not _is_int(limit, minimum=1) or limit > HISTORY_MAX:
        raise bad_request(f'"limit" must be a whole number from 1 to {HISTORY_MAX}.')
    return History(before=before, after=after, limit=limit)


@parser("ping")
def _parse_ping(obj: dict[str, Any]) -> Ping:
    return Ping()


@parser("delete", "report", names_command=True)
def _parse_message_action(obj: dict[str, Any]) -> Delete | Report:
    seq = obj.get("seq")
    if not _is_int(seq, minimum=1):
        raise bad_request('"seq" must be a message number (1 or more).')
    if obj["type"] == "delete":
        return Delete(seq=seq, reason=_reason(obj))
    return Report(seq=seq, reason=_reason(obj, required=True))


@parser(*USER_ACTIONS, names_command=True)
def _parse_user_action(obj: dict[str, Any]) -> Moderate:
    kind, user = obj["type"], _username(obj)
    minutes = obj.get("minutes")
    if kind == "mute" and minutes is None:
        minutes = MUTE_DEFAULT_MINUTES
    if minutes is not None and (not _is_int(minutes, minimum=1) or minutes > MINUTES_MAX):
        raise bad_request(f'"minutes" must be a whole number from 1 to {MINUTES_MAX}.')
    return Moderate(action=kind, user=user, minutes=minutes, reason=_reason(obj))


@parser("room_settings", names_command=True)
def _parse_room_settings(obj: dict[str, Any]) -> RoomSettings:
    locked, slow_mode, topic = obj.get("locked"), obj.get("slow_mode"), obj.get("topic")
    if locked is not None and not isinstance(locked, bool):
        raise bad_request('"locked" must be true or false.')
    if slow_mode is not None and (not _is_int(slow_mode, minimum=0) or slow_mode > 3600):
        raise bad_request('"slow_mode" must be a whole number of seconds from 0 to 3600.')
    if topic is not None:
        if not isinstance(topic, str) or len(topic) > TOPIC_MAX or not storable(topic):
            raise bad_request(f'"topic" must be a string of at most {TOPIC_MAX} characters.')
        topic = " ".join(topic.split())  # one line
    private = obj.get("private")
    if private is not None and not isinstance(private, bool):
        raise bad_request('"private" must be true or false.')
    if locked is None and slow_mode is None and topic is None and private is None:
        raise bad_request('Give "locked", "slow_mode", "topic" or "private".')
    return RoomSettings(locked=locked, slow_mode=slow_mode, topic=topic, private=private)


def _username(obj: dict[str, Any]) -> str:
    user = obj.get("user")
    if not isinstance(user, str) or not 0 < len(user) <= 150 or not storable(user):
        raise bad_request('"user" must be a username.')
    return user


@parser("invite", "remove", names_command=True)
def _parse_member(obj: dict[str, Any]) -> Member:
    return Member(action=obj["type"], user=_username(obj))


@parser("leave", names_command=True)
def _parse_leave(obj: dict[str, Any]) -> Leave:
    return Leave()


@parser("open_dm", names_command=True)
def _parse_open_dm(obj: dict[str, Any]) -> OpenDm:
    return OpenDm(user=_username(obj))


@parser("create_invitation", names_command=True)
def _parse_create_invitation(obj: dict[str, Any]) -> CreateInvitation:
    hours = obj.get("hours", INVITATION_HOURS_DEFAULT)
    if not _is_int(hours, minimum=1) or hours > 30 * 24:
        raise bad_request('"hours" must be a whole number from 1 to 720.')
    return CreateInvitation(hours=hours)


@parser("revoke_invitation", names_command=True)
def _parse_revoke_invitation(obj: dict[str, Any]) -> RevokeInvitation:
    invitation = obj.get("id")
    if not _is_int(invitation, minimum=1):
        raise bad_request('"id" must be an invitation number.')
    return RevokeInvitation(id=invitation)


@parser("read")
def _parse_read(obj: dict[str, Any]) -> Read:
    seq = obj.get("seq")
    if not _is_int(seq, minimum=0):
        raise bad_request('"seq" must be a whole number of 0 or more.')
    return Read(seq=seq)


@parser("typing")
def _parse_typing(obj: dict[str, Any]) -> Typing:
    return Typing()


def _seq(obj: dict[str, Any]) -> int:
    seq = obj.get("seq")
    if not _is_int(seq, minimum=1):
        raise bad_request('"seq" must be a message number (1 or more).')
    return seq


@parser("edit", names_command=True)
def _parse_edit(obj: dict[str, Any]) -> Edit:
    seq, body = _seq(obj), obj.get("body")
    if not isinstance(body, str):
        raise bad_request('"body" must be a string.')
    return Edit(seq=seq, body=body)


@parser("react", names_command=True)
def _parse_react(obj: dict[str, Any]) -> React:
    seq, emoji = _seq(obj), obj.get("emoji")
    if not (isinstance(emoji, str) and is_one_emoji(emoji)):
        raise bad_request('"emoji" must be one emoji.')
    return React(seq=seq, emoji=emoji)


def is_one_emoji(text: str) -> bool:
    """Whether `text` is exactly one emoji: one grapheme cluster that the emoji library
    knows (a ZWJ sequence, a flag, a keycap or a skin tone counts as one)."""
    return 0 < len(text) <= EMOJI_MAX and storable(text) and emoji.is_emoji(text)


def _reason(obj: dict[str, Any], *, required: bool = False) -> str:
    reason = obj.get("reason", "")
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise bad_request(f'"reason" must be a string of at most {REASON_MAX} characters.')
    if not storable(reason):
        raise bad_request('"reason" cannot contain NUL characters or unpaired surrogates.')
    reason = reason.strip()
    if required and not reason:
        raise bad_request('Give a "reason".')
    return reason


def _is_int(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= SEQ_MAX


def _valid_client_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= CLIENT_ID_MAX and storable(value)


def storable(text: str) -> bool:
    """Whether every database can store `text`: PostgreSQL refuses NUL characters, and an
    unpaired surrogate (JSON allows "\\ud800") cannot be encoded as UTF-8 at all."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_since(query_string: bytes) -> int | None:
    """The handshake's `since=<seq>` (docs/protocol.md, Resume), or None when it is absent or
    not a seq (then the welcome carries the latest page, as without it)."""
    values = parse_qs(query_string.decode("latin-1")).get("since") or [""]
    value = values[0]
    # isdigit() alone lets through "²", which int() refuses.
    if value.isascii() and value.isdigit() and int(value) <= SEQ_MAX:
        return int(value)
    return None


# --- server to client -------------------------------------------------------------------


# Made once: json.dumps with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(obj: dict[str, Any]) -> str:
    return _ENCODER.encode(obj)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def message_data(message: Message) -> dict[str, Any]:
    """A message object. The author must be loaded (select_related) already."""
    return message_object(
        message.seq,
        message.author.get_username(),
        message.body,
        message.created_at,
        message.client_id,
        message.edited_at,
        message.deleted_at,
        message.html,
        message.mentions,
        message.reply_to,
        message.reactions,
    )


# The columns of message_object, as a selector reads them without making models (exports).
MESSAGE_COLUMNS = (
    "seq",
    "author__username",
    "body",
    "created_at",
    "client_id",
    "edited_at",
    "deleted_at",
    "html",
    "mentions",
    "reply_to",
    "reactions",
)


def message_object(
    seq: int,
    user: str,
    body: str,
    created_at: datetime,
    client_id: str | None,
    edited_at: datetime | None,
    deleted_at: datetime | None,
    html: str,
    mentions: list[str],
    reply_to: int | None,
    reactions: list[dict[str, Any]],
) -> dict[str, Any]:
    """A message object (docs/protocol.md), from its columns (MESSAGE_COLUMNS)."""
    deleted = deleted_at is not None
    data: dict[str, Any] = {
        "seq": seq,
        "user": user,
        "body": "" if deleted else body,
        "ts": _ts(created_at),
    }
    if client_id is not None:
        data["client_id"] = client_id
    data["edited_ts"] = _ts(edited_at)
    data["deleted"] = deleted
    data["html"] = "" if deleted else html
    data["mentions"] = [] if deleted else mentions
    data["reply_to"] = reply_to
    data["reactions"] = [] if deleted else reactions
    return data


_string = json.encoder.encode_basestring  # a str as JSON, as _ENCODER writes it (C)


def message_json(
    seq: int,
    user: str,
    body: str,
    ts: str,
    client_id: str | None,
    edited_ts: str | None,
    deleted_ts: str | None,
    html: str,
    mentions: str,
    reply_to: int | None,
    reactions: str,
) -> str:
    """encode(message_object(...)), to the byte, from a row in wire form
    (selectors.message_rows: timestamps as ISO text, mentions and reactions as JSON text),
    without building the dict, decoding the JSON columns and walking it all again: an
    export writes a million of these, and that was two thirds of its time."""
    if deleted_ts is not None:
        body = html = ""
        mentions = reactions = "[]"
    parts = ['{"seq":', str(seq), ',"user":', _string(user), ',"body":', _string(body)]
    parts += [',"ts":', _string(ts)]
    if client_id is not None:
        parts += [',"client_id":', _string(client_id)]
    parts += [',"edited_ts":', "null" if edited_ts is None else _string(edited_ts)]
    parts += [',"deleted":', "false" if deleted_ts is None else "true", ',"html":', _string(html)]
    parts += [',"mentions":', _json_text(mentions)]
    parts += [',"reply_to":', "null" if reply_to is None else str(reply_to)]
    parts += [',"reactions":', _json_text(reactions), "}"]
    return "".join(parts)


def _json_text(value: str | list) -> str:
    """A JSON column's text as _ENCODER writes it (the database's own spacing differs)."""
    if value == "[]":
        return value
    return _ENCODER.encode(json.loads(value) if isinstance(value, str | bytes) else value)


def room_data(room: Room, members: list[str] | None = None) -> dict[str, Any]:
    """The room object; `members` (sorted usernames) for a private room."""
    data = {
        "slug": room.slug,
        "title": room.title,
        "topic": room.topic,
        "private": room.private,
        "dm": room.is_dm,
        "locked": room.locked,
        "slow_mode": room.slow_mode_seconds,
    }
    if members is not None:
        data["members"] = members
    return data


class Counts(NamedTuple):
    """A room's counts for one user (docs/protocol.md, "Read markers and unread counts")."""

    last_seq: int
    last_read: int
    unread: int
    mentions: int


def room_summary(room: Room, counts: Counts) -> dict[str, Any]:
    """A room in the user's room list (the home socket's `hello`, `rooms`); a direct
    conversation names the other side in `with` (chat.selectors sets `dm_with`)."""
    summary = {
        "slug": room.slug,
        "title": room.title,
        "private": room.private,
        "dm": room.is_dm,
        **counts._asdict(),
    }
    if room.is_dm:
        summary["with"] = getattr(room, "dm_with", "")
    return summary


Summaries = Iterable[tuple["Room", Counts]]


def hello_frame(username: str, rooms: Summaries) -> str:
    """The home socket's first frame: who you are and the rooms you can see."""
    summaries = [room_summary(room, counts) for room, counts in rooms]
    return encode({"type": "hello", "user": username, "rooms": summaries})


def rooms_frame(rooms: Summaries) -> str:
    """The user's whole room list, after it changed."""
    return encode({"type": "rooms", "rooms": [room_summary(room, c) for room, c in rooms]})


def unread_frame(slug: str, counts: Counts) -> str:
    return encode({"type": "unread", "room": slug, **counts._asdict()})


def notification_frame(kind: str, slug: str, message: Message) -> str:
    """For a browser to notify with: the user was mentioned (`mention`) or got a direct
    message (`dm`)."""
    return encode(
        {"type": "notification", "kind": kind, "room": slug, "message": message_data(message)}
    )


def standing_frame(slug: str, *, moderator: bool, muted_until: datetime | None) -> str:
    """On the user's stream: a moderator changed what the user may do in room `slug`
    (mute, unmute, role): the welcome's `moderator` and `muted_until`, as they are now, so
    an open page enables or disables its composer at once."""
    return encode(
        {"type": "standing", "room": slug, "moderator": moderator, "muted_until": _ts(muted_until)}
    )


def presence_frame(username: str, online: bool) -> str:
    return encode({"type": "presence", "user": username, "online": online})


def presence_changes_frame(changes: dict[str, bool]) -> str:
    """Several presence changes in one frame ({username: online}; docs/protocol.md,
    "Presence in one frame"): what a socket gets instead of more than
    PRESENCE_FRAMES_MAX `presence` frames at once, as when a room fills after a deploy."""
    online = sorted(name for name, up in changes.items() if up)
    offline = sorted(name for name, up in changes.items() if not up)
    return encode({"type": "presence_changes", "online": online, "offline": offline})


def typing_frame(username: str) -> str:
    return encode({"type": "typing", "user": username})


def message_frame(message: Message) -> str:
    return encode({"type": "message", "message": message_data(message)})


class WelcomeParts:
    """What the welcomes of sockets joining a room together share, encoded once for all of
    them (chat.fanout admits a room's joins in batches): who is present, and each page of
    messages. In a room of 10,000 that reconnects at once, each welcome names everyone
    present, and most carry the same 50 messages."""

    def __init__(self, present: Iterable[str]) -> None:
        self.present = encode(sorted(present))  # type: ignore[arg-type]
        self._pages: dict[int, tuple[list[Message], str]] = {}

    def messages(self, messages: list[Message]) -> str:
        # By identity: the welcomes of one page share its list (selectors.welcomes), which
        # is kept here so that its id stays its own.
        if id(messages) not in self._pages:
            encoded = encode([message_data(m) for m in messages])  # type: ignore[arg-type]
            self._pages[id(messages)] = (messages, encoded)
        return self._pages[id(messages)][1]


def welcome_frame(
    *,
    room: Room,
    username: str,
    last_seq: int,
    messages: list[Message],
    has_more: bool,
    has_more_after: bool | None = None,
    moderator: bool = False,
    present: Iterable[str] = (),
    last_read: int = 0,
    muted_until: datetime | None = None,
    members: list[str] | None = None,
    shared: WelcomeParts | None = None,
) -> str:
    """The welcome frame; with `shared`, its `present` and messages come ready encoded
    (`present` is then ignored)."""
    shared = shared or WelcomeParts(present)
    frame: dict[str, Any] = {
        "type": "welcome",
        "room": room_data(room, members),
        "user": username,
        "last_seq": last_seq,
        "messages": [],  # spliced in below, as encoded once for the batch
        "has_more": has_more,
        "present": [],
        "last_read": last_read,
    }
    if has_more_after is not None:
        frame["has_more_after"] = has_more_after
    if moderator:
        frame["moderator"] = True  # the user may moderate this room (moderation.js)
    if muted_until is not None:
        frame["muted_until"] = _ts(muted_until)  # the composer says so before a post fails
    # The first `"present":[]` and `"messages":[]` are these keys: a string's quotes are
    # escaped, no key of the room's data (nor of a message) has either name, and the
    # usernames spliced in first are strings.
    text = encode(frame).replace('"present":[]', '"present":' + shared.present, 1)
    return text.replace('"messages":[]', '"messages":' + shared.messages(messages), 1)


def fit_frame(messages: list[Message], *, keep_newest: bool) -> tuple[list[Message], bool]:
    """The messages one frame can carry within FRAME_BUDGET, taken from the newest end (a
    page below a seq) or the oldest (a page above one), at least one; and whether some were
    left out, for the frame's has_more / has_more_after."""
    order = reversed(messages) if keep_newest else iter(messages)
    size, kept = 0, 0
    for message in order:
        size += len(encode(message_data(message)).encode("utf-8", "surrogatepass"))
        if kept and size > FRAME_BUDGET:
            break
        kept += 1
    if kept == len(messages):
        return messages, False
    return (messages[-kept:] if keep_newest else messages[:kept]), True


def history_frame(messages: Iterable[Message], has_more: bool) -> str:
    return encode(
        {"type": "history", "messages": [message_data(m) for m in messages], "has_more": has_more}
    )


def error_frame(err: ChatError) -> str:
    return encode({"type": "error", "code": err.code, "detail": err.detail, **err.extra})


def message_edited_frame(message: Message) -> str:
    return encode({"type": "message_edited", "message": message_data(message)})


def reactions_frame(seq: int, reactions: list[dict[str, Any]]) -> str:
    return encode({"type": "reactions", "seq": seq, "reactions": reactions})


def message_deleted_frame(seq: int) -> str:
    return encode({"type": "message_deleted", "seq": seq})


def room_updated_frame(room: Room, members: list[str] | None = None) -> str:
    return encode({"type": "room_updated", "room": room_data(room, members)})


def ok_frame(command: str, **detail: Any) -> str:
    """The answer to a moderation command that succeeded (only to its sender)."""
    return encode({"type": "ok", "command": command, **detail})


def invitation_frame(invitation: Any, token: str) -> str:
    """The answer to create_invitation: the link (a path on this site) and until when."""
    return ok_frame(
        "create_invitation",
        id=invitation.pk,
        url=f"/invite/{token}/",
        expires=_ts(invitation.expires_at),
    )


PONG = encode({"type": "pong"})


def pong_frame(last_seq: int | None) -> str:
    """`pong` with the room's last seq (an addition to version 1): a client in a quiet room
    learns of a message whose broadcast it missed, and fetches it with `history` `after`."""
    return PONG if last_seq is None else encode({"type": "pong", "last_seq": last_seq})
