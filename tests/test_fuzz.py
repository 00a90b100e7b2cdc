"""Protocol fuzzing against a real daphne: 10,000 frames, right and wrong, of every kind.

What a user would check, frame by frame and at the end:

- every frame is answered as docs/protocol.md says, or is documented as silent. Each fuzz
  frame is followed by a `{"type": "ping"}` fence; frames are handled in order per socket,
  so what arrives before the fence's `pong` is the frame's answer (ANSWERS: the answer types
  each command may get; ERROR_CODES: the codes of its refusals; `expectation` narrows both
  with what the spec says of the frame's fields). A post that was stored is the one silent
  case: its answer is its `message` broadcast, which travels the fan-out and may come after
  the fence; every such post is counted, and at the end its body and client_id must be in
  the room exactly once. A resend of a stored client_id must be answered with the stored
  message, before the fence;
- the server stays responsive: each fence pong within ANSWER_TIMEOUT; and the pongs'
  `last_seq` never goes down;
- no socket ever closes with 1011, nor at all except for a documented reason (a frame over
  1 MiB ends its connection: those are sent on sockets of their own); the fuzzer is never
  the target of its own moderation (a plain member in one room, the owner of its own room,
  naming only users it outranks or may not touch), so nothing should close its sockets;
- no traceback and no ERROR line in the server's log; a log error is pinned to its frame:
  one of the frames in flight when it was written that failed otherwise too, or the one
  that brings it again when replayed alone on a fresh socket;
- a victim (another user, only reading, in the fuzzed room) receives every message posted
  meanwhile, live, in seq order with no gap and no duplicate, without reconnecting: a
  poster posts POSTS messages with client_ids (each acknowledged), spread over the fuzz,
  while a churner opens and closes sockets in the room in every rude way (at once, before
  the handshake's answer, in the middle of a frame, after sending without reading).

The fuzzing user is a plain member of the room it shares with the victim (so moderation
commands are refused there), and on a second socket, at the same time, the owner of a room
of its own (CHAT_AUTO_CREATE_ROOMS: its first visit created it), where moderation commands
run deep against target users, one of them connected and kicked, banned, unbanned... Its
posts pass a raised rate limit (ENV) often enough to be stored and broadcast by the
hundred; most are still refused with `rate_limited`, which is an answer too.

Driving Hypothesis with async sockets: Hypothesis draws values only inside a test it runs,
a test case holds a bounded number of choices (so 10,000 frames cannot come from one
`st.data()` example), and a @given test that ran an event loop per example would open
sockets per example. So tests/fuzz_frames.py draws the frames first, with `draw_many`: an
inner @given test that takes a batch of 25 frames per example (derandomize=True, generate
phase only: no shrinking, no example database), while the server starts in another thread.
Then one event loop sends them. The same frames every run (reproducible in CI);
FUZZ_SEED=<int> draws others, FUZZ_FRAMES=<n> sends more (default 10,000). A failing frame
needs no shrinking: its answer names it, and the report shows the shortest frame that
failed each way. The run stops early after MAX_FAILURES failures or MAX_RECONNECTS
reconnects.

Run time on this 2-core machine when idle (the run prints its figures with -s): 10,000
fuzz frames and ~320 churn frames in 23-28 s on the embedded default (SQLite + in-memory
layer), 33-38 s on PostgreSQL + Redis; the server's CPU is the bound (~1.4 ms a frame with
its fence on SQLite, ~2 ms on PostgreSQL). Under other load, up to twice that.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import itertools
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests import fuzz_frames as ff
from tests.live import ws_connect
from tests.support.accounts import login
from tests.support.processes import LiveServer, manage

FRAMES = int(os.environ.get("FUZZ_FRAMES") or 10_000)
SEED = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(max(300, FRAMES // 30))]

PASSWORD = "pw-for-tests-123"
ROOM = "fuzz"  # the fuzzer is a plain member here; the victim and the poster are here
OWN_ROOM = "fuzz-own"  # the fuzzer's own room
FUZZER, VICTIM, POSTER, CHURNER, HOST = "fuzzer", "victim", "poster", "churner", "host"
PLAIN_TARGETS = ("target1", "target2")  # plain members: the owner may act on them
STAFF = "staffer"  # outranks the owner
# The names moderation commands name (besides random text): never the victim, the poster,
# the churner or the host. The fuzzer itself and staff are there: acting on them is refused.
TARGETS = (*PLAIN_TARGETS * 3, STAFF, FUZZER, "nobody", "Target1", "target1 ")
USERS = {FUZZER, VICTIM, POSTER, CHURNER, HOST, *PLAIN_TARGETS, STAFF}

POSTS = max(20, min(300, FRAMES // 33))  # the poster's messages, spread over the fuzz
CHURN_EVERY = 40  # frames between two churn sockets
FENCE = '{"type":"ping"}'
ANSWER_TIMEOUT = 10
REASON_MAX = 500
MAX_FAILURES = 100  # then stop: the report has enough to go on
MAX_RECONNECTS = 20  # likewise (each costs a second or more)
ENV = {
    # Enough posts pass the rate limit to be stored and broadcast; most are refused.
    "CHAT_RATE_LIMIT_BURST": "100",
    "CHAT_RATE_LIMIT_PER_SECOND": "50",
}

# --- what each command may be answered with (docs/protocol.md) -----------------------------

USER_ACTIONS = ("mute", "unmute", "ban", "unban", "kick")
# The fuzzer's rooms are public (it never makes its own private: fuzz_frames.py): each of
# these is refused, as malformed, for a public room, or for a member who is no moderator.
PRIVATE = ("invite", "remove", "leave", "create_invitation", "revoke_invitation")
# Rich messages: an edit of someone else's (or a deleted) message is forbidden, of none
# bad_request; a reaction toggles on a message that is there.
RICH = ("edit", "react")
MODERATION = ("delete", "report", *USER_ACTIONS, "room_settings", *PRIVATE, "open_dm", *RICH)
# None: no answer before the fence; for a post, its own `message` broadcast is the answer.
ANSWERS: dict[str, set[str | None]] = {
    "message": {"message", "error", None},  # stored, resend answer, refused
    "history": {"history", "error"},
    "ping": {"pong"},
    **{kind: {"ok", "error"} for kind in MODERATION},
    "read": {None, "error"},  # no answer (an `unread` frame on a rise), or above last_seq
    "typing": {None},  # never answered: shown to the others, or dropped by the brake
    "open_dm": {"ok", "error"},
    **{kind: {"ok", "error"} for kind in PRIVATE},
    "unknown": {"error"},  # version-2 and unknown types, no type, binary frames
    "too_long": {"error"},  # over 64 KiB
}
ERROR_CODES: dict[str, set[str]] = {
    "message": {"bad_request", "empty", "too_long", "rate_limited"},
    "history": {"bad_request"},
    "ping": set(),
    "delete": {"bad_request", "forbidden"},
    "report": {"bad_request", "rate_limited"},
    **{kind: {"bad_request", "forbidden"} for kind in USER_ACTIONS},
    "room_settings": {"bad_request", "forbidden"},
    "read": {"bad_request"},
    "typing": set(),
    "open_dm": {"bad_request"},
    **{kind: {"bad_request", "forbidden"} for kind in PRIVATE},
    "unknown": {"bad_request"},
    "too_long": {"too_long"},
}
# Frames every socket may get at any time, which answer nothing (room life: people come,
# go, type, read; the fuzzer's posts change everyone's unread counts).
BROADCASTS = {
    *("message_deleted", "room_updated", "presence", "presence_changes", "typing", "unread"),
    "rooms",
}
BROADCASTS |= {"message_edited", "reactions", "notification"}
# What ends a connection after a frame over 1 MiB: daphne drops the TCP connection (the
# client sees 1006), uvicorn sends 1009.
HUGE_CLOSE = {1006, 1009}
LOG_ERROR = re.compile(r"Traceback|\bERROR\b")


@dataclass
class Expect:
    row: str  # the row of ANSWERS
    answers: set[str | None]
    codes: set[str] = field(default_factory=set)
    pongs: int = 0  # pongs the frame itself gets, before the fence's
    client_id: str | None = None  # a valid client_id: echoed in an error
    body: str | None = None  # a post that may be stored: its body as stored
    resend: bool = False  # a stored client_id again: answered with the stored message
    ok_seq: bool = False  # delete in the shared room: ok only for the fuzzer's own message
    command: dict[str, Any] | None = None  # the frame's JSON object

    def brief(self) -> str:
        codes = f" ({', '.join(sorted(self.codes))})" if self.codes else ""
        return f"{' or '.join(sorted(map(str, self.answers)))}{codes}"


def combine(*verdicts: bool | None) -> bool | None:
    """False if any field is wrong, None if any is undecided by the docs, else True."""
    if False in verdicts:
        return False
    return None if None in verdicts else True


def whole(value: object, lo: int, hi: int) -> bool | None:
    """A whole number from lo to hi? (Missing is for the caller; null and 5.0 are left
    undecided: the docs do not say.)"""
    if value is ff.MISSING:
        return True
    if value is None:
        return None
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return lo <= value <= hi
    if (
        isinstance(value, float)
        and math.isfinite(value)
        and value.is_integer()
        and lo <= value <= hi
    ):
        return None
    return False


def storable(text: str) -> bool:
    return "\x00" not in text and ff._sendable(text)


def reason_ok(value: object, *, required: bool) -> bool | None:
    if value is ff.MISSING:
        return not required
    if value is None:
        return None
    if not isinstance(value, str):
        return False
    if len(value.strip()) > REASON_MAX:
        return False
    if len(value) > REASON_MAX or not storable(value):
        return None  # past 500 only with the white space around it; or unstorable
    return not (required and not value.strip())


def decided(valid: bool | None, row: str, good: set, codes: set[str]) -> Expect:
    """The expectation for a command whose fields are right (valid), wrong, or undecided."""
    if valid is False:
        return Expect(row, {"error"}, {"bad_request"})
    if valid is None:
        return Expect(row, good | {"error"}, codes | {"bad_request"})
    return Expect(row, good, codes)


def expectation(frame: ff.Frame, *, owner: bool, stored: dict[str, Any]) -> Expect:
    """What the spec says `frame` is answered with, for the fuzzer (the owner of the room or
    a plain member); `stored`: the client_ids the fuzzer has stored in the room."""
    if isinstance(frame.payload, bytes):
        return Expect("unknown", {"error"}, {"bad_request"})
    if frame.size > ff.FRAME_LIMIT:
        return Expect("too_long", {"error"}, {"too_long"})
    try:
        obj = json.loads(frame.payload)
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):  # any other text is a chat message of the raw text
        return post_expectation(frame.payload, ff.MISSING, stored)
    expect = command_expectation(obj, owner=owner, stored=stored)
    expect.command = obj
    return expect


def command_expectation(obj: dict[str, Any], *, owner: bool, stored: dict[str, Any]) -> Expect:
    kind = obj.get("type")
    get = obj.get
    if kind == "message":
        return post_expectation(get("body", ff.MISSING), get("client_id", ff.MISSING), stored)
    if kind == "history":
        before, after = get("before", ff.MISSING), get("after", ff.MISSING)
        both = None if None in (before, after) else False
        valid = combine(
            whole(before, 0, ff.SEQ_MAX),
            whole(after, 0, ff.SEQ_MAX),
            whole(get("limit", ff.MISSING), 1, 100),
            True if ff.MISSING in (before, after) else both,
        )
        return decided(valid, "history", {"history"}, set())
    if kind == "ping":
        return Expect("ping", {"pong"}, pongs=1)
    if kind in ("delete", "report"):
        seq = get("seq", ff.MISSING)
        valid = combine(
            False if seq is ff.MISSING else whole(seq, 1, ff.SEQ_MAX),
            reason_ok(get("reason", ff.MISSING), required=kind == "report"),
        )
        codes = {"bad_request", "rate_limited"} if kind == "report" else {"bad_request"}
        if kind == "delete" and not owner:
            codes.add("forbidden")  # someone else's message
        expect = decided(valid, kind, {"ok", "error"}, codes)
        expect.ok_seq = kind == "delete" and not owner
        return expect
    if kind in USER_ACTIONS:
        return user_action_expectation(kind, obj, owner=owner)
    if kind == "room_settings":
        return room_settings_expectation(obj, owner=owner)
    if kind == "read":
        seq = get("seq", ff.MISSING)
        valid = False if seq is ff.MISSING else whole(seq, 0, ff.SEQ_MAX)
        return decided(valid, kind, {None, "error"}, {"bad_request"})
    if kind == "typing":
        return Expect("typing", {None})
    if kind == "open_dm":
        return user_expectation(kind, get("user", ff.MISSING), {"ok", "error"}, {"bad_request"})
    if kind in ("invite", "remove"):
        codes = {"bad_request"} if owner else {"forbidden"}
        return user_expectation(kind, get("user", ff.MISSING), {"error"}, codes)
    if kind == "leave":
        return Expect(kind, {"error"}, {"bad_request"})  # a public room has nothing to leave
    if kind in RICH:
        return rich_expectation(kind, obj)
    if kind in ("create_invitation", "revoke_invitation"):
        name, lo, hi = ("hours", 1, 720) if kind == "create_invitation" else ("id", 1, ff.SEQ_MAX)
        value = get(name, ff.MISSING)
        valid = whole(value, lo, hi) if value is not ff.MISSING or name == "id" else True
        if value is ff.MISSING and name == "id":
            valid = False
        return decided(valid, kind, {"error"}, {"bad_request"} if owner else {"forbidden"})
    return Expect("unknown", {"error"}, {"bad_request"})  # version 2, unknown, no type


def rich_expectation(kind: str, obj: dict[str, Any]) -> Expect:
    """edit and react: the fuzzer cannot tell which seqs are its own, there or deleted, so
    a well-formed one may be refused for any of those reasons, or rate-limited."""
    seq = obj.get("seq", ff.MISSING)
    seq_ok = False if seq is ff.MISSING else whole(seq, 1, ff.SEQ_MAX)
    codes = {"bad_request", "forbidden", "rate_limited"}
    if kind == "edit":
        body = obj.get("body", ff.MISSING)
        valid = combine(seq_ok, isinstance(body, str) and (None if not storable(body) else True))
        return decided(valid, kind, {"ok", "error"}, codes | {"empty", "too_long"})
    emoji = obj.get("emoji", ff.MISSING)
    emoji_ok = (
        {"\U0001f44d": True, ":+1:": False, "": False}.get(emoji)
        if isinstance(emoji, str)
        else False
    )
    return decided(combine(seq_ok, emoji_ok), kind, {"ok", "error"}, codes)


def room_settings_expectation(obj: dict[str, Any], *, owner: bool) -> Expect:
    get = obj.get
    locked, slow = get("locked", ff.MISSING), get("slow_mode", ff.MISSING)
    topic, private = get("topic", ff.MISSING), get("private", ff.MISSING)
    values = (locked, slow, topic, private)
    given = [v for v in values if v is not ff.MISSING and v is not None]
    nulls = None in values
    valid = combine(
        locked in (ff.MISSING, None) or isinstance(locked, bool),
        None if locked is None else True,
        whole(slow, 0, 3600),
        topic in (ff.MISSING, None)
        or (isinstance(topic, str) and len(topic) <= 200 and storable(topic)),
        private in (ff.MISSING, None) or isinstance(private, bool),
        True if given else (None if nulls else False),
    )
    if owner:
        return decided(valid, "room_settings", {"ok"}, set())
    return decided(valid, "room_settings", {"error"}, {"forbidden"})


def user_expectation(kind: str, user: object, good: set, codes: set[str]) -> Expect:
    """A command naming a user: malformed is bad_request; else `good` with `codes`."""
    valid = isinstance(user, str) and 0 < len(user) <= 150 and storable(user)
    if not valid:
        return Expect(kind, {"error"}, {"bad_request"})
    if kind == "open_dm" and user in PLAIN_TARGETS:
        return Expect(kind, {"ok"})
    return Expect(kind, good, codes)


def post_expectation(body: object, client_id: object, stored: dict[str, Any]) -> Expect:
    if not isinstance(body, str):
        return Expect("message", {"error"}, {"bad_request"})
    cid: str | None = None
    undecided = False
    if client_id is None:
        undecided = True  # null: no client_id, or a bad one? The docs do not say
    elif client_id is not ff.MISSING:
        if not (isinstance(client_id, str) and 0 < len(client_id) <= 64 and storable(client_id)):
            return Expect("message", {"error"}, {"bad_request"})
        cid = client_id
    text = body.strip()
    refusals = set()
    if not text:
        refusals.add("empty")
    if len(text) > ff.MAX_BODY:
        refusals.add("too_long")
    if not storable(text):
        refusals.add("bad_request")
    if undecided:
        refusals.add("bad_request")
    if refusals - {"bad_request"} or (refusals and not undecided):
        # Refused for its body; the rate limit may refuse it first.
        return Expect("message", {"error"}, refusals | {"rate_limited"}, client_id=cid)
    if cid is not None and cid in stored:
        return Expect("message", {"message"}, client_id=cid, body=text, resend=True)
    codes = {"rate_limited"} | refusals
    return Expect("message", {None, "error"}, codes, client_id=cid, body=text)


def user_action_expectation(kind: str, obj: dict[str, Any], *, owner: bool) -> Expect:
    user = obj.get("user", ff.MISSING)
    minutes = obj.get("minutes", ff.MISSING)
    valid = combine(
        whole(minutes, 1, 527_040) if kind in ("mute", "ban") else (minutes is ff.MISSING or None),
        reason_ok(obj.get("reason", ff.MISSING), required=False),
        isinstance(user, str) and 0 < len(user) <= 150,
    )
    if valid is not False and isinstance(user, str) and not storable(user):
        # No such user can exist; refused as malformed or as not allowed.
        return Expect(kind, {"error"}, {"bad_request", "forbidden"})
    if not owner:  # a plain member: refused whatever the name
        return decided(valid, kind, {"error"}, {"forbidden"})
    if user in PLAIN_TARGETS:
        return decided(valid, kind, {"ok"}, set())
    if isinstance(user, str) and user in USERS:  # the fuzzer itself, staff: not below
        return decided(valid, kind, {"error"}, {"forbidden"})
    return decided(valid, kind, {"error"}, {"bad_request"})  # no such user


# --- the run --------------------------------------------------------------------------------


@dataclass
class Failure:
    where: str
    problem: str  # the kind of failure: the report keeps the shortest frame of each
    frame: ff.Frame | None
    detail: str

    def describe(self) -> str:
        frame = self.frame.short(300) if self.frame is not None else "-"
        return f"[{self.where}] {self.problem}\n    frame: {frame}\n    {self.detail[:1500]}"


class Run:
    """What the run's tasks share: failures, progress, the server log."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.failures: list[Failure] = []
        self.frames_done = 0
        self.sent = collections.Counter()  # frames sent, by who sent them
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.stopping = asyncio.Event()
        self.aborted = False  # stopped early for too many failures
        self.log_file = open(server.log_path, "rb")  # noqa: SIM115 - closed by close()
        self.log_events: list[tuple[str, list[tuple[str, ff.Frame]]]] = []
        self.in_flight: dict[str, collections.deque[ff.Frame]] = {}

    def close(self) -> None:
        self.log_file.close()

    def fail(self, where: str, problem: str, frame: ff.Frame | None, detail: str) -> None:
        self.failures.append(Failure(where, problem, frame, detail))
        if len(self.failures) >= MAX_FAILURES:
            self.aborted = True
            self.stopping.set()

    def advance(self) -> None:
        self.frames_done += 1
        while self.waiters and self.waiters[0][0] <= self.frames_done:
            _, future = self.waiters.pop(0)
            if not future.done():
                future.set_result(None)

    async def reach(self, n: int) -> None:
        """Wait until `n` fuzz frames were answered (or the fuzz is over)."""
        if self.frames_done >= n or self.stopping.is_set():
            return
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((n, future))
        self.waiters.sort(key=lambda w: w[0])
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({future, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    def note_frame(self, who: str, frame: ff.Frame) -> None:
        self.in_flight.setdefault(who, collections.deque(maxlen=2)).append(frame)

    def check_log(self) -> None:
        """New ERROR or Traceback lines in the server's log: note the frames in flight."""
        new = self.log_file.read()
        if new and LOG_ERROR.search(new.decode("utf-8", "replace")):
            suspects = [(who, f) for who, frames in self.in_flight.items() for f in frames]
            self.log_events.append((new.decode("utf-8", "replace"), suspects))


class FuzzSocket:
    """One fuzzing socket: sends frames with a fence each and checks their answers."""

    def __init__(self, run: Run, name: str, room: str, cookie: str, *, owner: bool) -> None:
        self.run, self.name, self.room, self.cookie, self.owner = run, name, room, cookie, owner
        self.ws: Any = None
        self.live: list[dict[str, Any]] = []  # message objects, as received (live or welcome)
        self.stored: dict[str, Any] = {}  # client_id -> True, for the fuzzer's stored posts
        self.expected_bodies: collections.Counter[tuple[str, str | None]] = collections.Counter()
        self.resent: collections.Counter[str] = collections.Counter()  # client_id -> resends
        self.ok_deletes: list[int] = []
        self.answers: collections.Counter[tuple[str, str]] = collections.Counter()
        self.reconnects = 0
        self.last_pong = 0  # the last fence's last_seq
        self.seconds: collections.Counter[str] = collections.Counter()  # per row, to the fence
        self.count: collections.Counter[str] = collections.Counter()

    async def open(self) -> None:
        since = max((m["seq"] for m in self.live), default=None)
        self.ws = await ws_connect(self.run.server, self.room, self.cookie, since=since)
        welcome = await recv_json(self.ws)
        assert welcome["type"] == "welcome", welcome
        assert bool(welcome.get("moderator")) == self.owner, welcome
        self.live.extend(welcome["messages"])

    async def reopen(self) -> None:
        """Reconnect (with `since`: the messages missed meanwhile come in the welcome)."""
        self.reconnects += 1
        if self.reconnects >= MAX_RECONNECTS:
            self.run.aborted = True
            self.run.stopping.set()
        with contextlib.suppress(Exception):
            await self.ws.close()
        try:
            await self.open()
        except (OSError, TimeoutError, websockets.WebSocketException, AssertionError) as err:
            self.run.fail(self.name, "cannot reconnect", None, repr(err))
            self.run.aborted = True
            self.run.stopping.set()

    async def fuzz(self, frames: list[ff.Frame]) -> None:
        for frame in frames:
            if self.run.stopping.is_set():
                return
            self.run.note_frame(self.name, frame)
            if frame.label == "huge":
                await self.huge(frame)
            else:
                await self.one(frame)
            self.run.sent[self.name] += 1
            self.run.check_log()
            self.run.advance()

    async def one(self, frame: ff.Frame) -> None:
        expect = expectation(frame, owner=self.owner, stored=self.stored)
        got: list[dict[str, Any]] = []
        sent_at = time.monotonic()
        try:
            await self.ws.send(frame.payload)
            await self.ws.send(FENCE)
            pongs = 0
            async with asyncio.timeout(ANSWER_TIMEOUT):
                while True:
                    msg = await recv_json(self.ws, timeout=None)
                    kind = msg.get("type")
                    if kind == "pong":
                        if pongs == expect.pongs:
                            fence = msg
                            break
                        pongs += 1
                    elif kind == "message" and not self.is_resend_answer(msg, expect, got):
                        self.live.append(msg["message"])
                        continue
                    elif kind in BROADCASTS:
                        continue
                    got.append(msg)
        except websockets.ConnectionClosed as closed:
            self.run.fail(
                self.name,
                f"connection closed ({closed.rcvd.code if closed.rcvd else 'no close frame'})",
                frame,
                f"answers before the close: {got}",
            )
            await self.reopen()
            return
        except TimeoutError:
            self.run.fail(
                self.name, "no fence pong within timeout", frame, f"answers so far: {got}"
            )
            await self.reopen()
            return
        self.seconds[expect.row] += time.monotonic() - sent_at
        self.count[expect.row] += 1
        problem = self.judge(expect, got)
        if problem:
            self.run.fail(self.name, problem, frame, f"expected {expect.brief()}, got {got}")
        # The fence's last_seq: the room's newest seq, which never goes down.
        last_seq = fence.get("last_seq")
        if not isinstance(last_seq, int) or last_seq < self.last_pong:
            detail = f"after last_seq {self.last_pong}: {fence}"
            self.run.fail(self.name, "pong without a last_seq, or a smaller one", frame, detail)
        else:
            self.last_pong = last_seq

    def is_resend_answer(
        self, msg: dict[str, Any], expect: Expect, got: list[dict[str, Any]]
    ) -> bool:
        m = msg["message"]
        return (
            expect.resend
            and not got
            and m.get("client_id") == expect.client_id
            and m.get("user") == FUZZER
        )

    def judge(self, expect: Expect, got: list[dict[str, Any]]) -> str | None:
        """What is wrong with the answer `got` to a frame expected to get `expect`."""
        if len(got) > 1:
            return f"{expect.row}: {len(got)} answers"
        answer = got[0] if got else None
        kind = answer["type"] if answer else None
        self.answers[(expect.row, answer.get("code", kind) if answer else "stored")] += 1
        if kind not in expect.answers:
            return f"{expect.row}: answered {kind or 'nothing'}, not one of {expect.answers}"
        if kind == "error":
            code = answer.get("code")
            if code not in expect.codes:
                return f"{expect.row}: error {code!r}, not one of {sorted(expect.codes)}"
            if expect.row in MODERATION and answer.get("command") != expect.row:
                return f"{expect.row}: the error does not name the command"
            if expect.client_id is not None and answer.get("client_id") != expect.client_id:
                return f"{expect.row}: the error does not echo the client_id"
            if code == "rate_limited" and not isinstance(answer.get("retry_after"), int | float):
                return f"{expect.row}: rate_limited without retry_after"
            return None
        if expect.row == "message":
            if kind is None:  # stored: its broadcast comes (checked at the end)
                self.expected_bodies[(expect.body, expect.client_id)] += 1
                if expect.client_id is not None:
                    self.stored[expect.client_id] = True
            else:  # the resend answer
                self.resent[expect.client_id] += 1
        if kind == "ok":
            if answer.get("command") != expect.row:
                return f"{expect.row}: ok names {answer.get('command')!r}"
            if problem := ok_problem(answer, expect.command or {}):
                return f"{expect.row}: {problem}"
            if expect.ok_seq:
                self.ok_deletes.append(answer.get("seq"))
        if kind == "history":
            return history_problem(answer, expect.command or {})
        return None

    async def huge(self, frame: ff.Frame) -> None:
        """A frame over 1 MiB, on a socket of its own: the connection must end as
        documented, and nothing else."""
        async with await ws_connect(self.run.server, self.room, self.cookie) as ws:
            assert (await recv_json(ws))["type"] == "welcome"
            code = None
            try:
                await ws.send(frame.payload)
                async with asyncio.timeout(ANSWER_TIMEOUT):
                    while True:
                        await ws.recv()
            except websockets.ConnectionClosed:
                code = ws.close_code
            except TimeoutError:
                code = "still open"
            if code not in HUGE_CLOSE:
                self.run.fail(
                    self.name, f"frame over 1 MiB: connection ended with {code}", frame, ""
                )


async def recv_json(ws, timeout: float | None = ANSWER_TIMEOUT) -> dict[str, Any]:  # noqa: ASYNC109
    if timeout is None:
        return json.loads(await ws.recv())
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


class Reader:
    """The victim: only reads, and keeps every live message's seq."""

    def __init__(self, run: Run, ws) -> None:
        self.run, self.ws = run, ws
        self.seqs: list[int] = []
        self.messages: list[dict[str, Any]] = []
        self.start_seq = 0
        self.closed: str | None = None
        self.changed = asyncio.Event()

    async def read(self) -> None:
        welcome = await recv_json(self.ws)
        assert welcome["type"] == "welcome", welcome
        self.start_seq = welcome["last_seq"]
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg["type"] == "message":
                    self.seqs.append(msg["message"]["seq"])
                    self.messages.append(msg["message"])
                    self.changed.set()
                    if problem := message_problem(msg["message"]):
                        self.run.fail("victim", problem, None, str(msg)[:500])
                elif msg["type"] not in BROADCASTS:
                    self.run.fail("victim", f"unexpected {msg['type']} frame", None, str(msg))
        except websockets.ConnectionClosed as closed:
            self.closed = f"{closed.rcvd.code if closed.rcvd else 'no close frame'}"
        if not self.run.stopping.is_set():
            self.closed = self.closed or "ended"
            self.run.fail("victim", f"the victim's socket closed: {self.closed}", None, "")

    async def wait_for(self, seq: int) -> None:
        async with asyncio.timeout(15):
            while max(self.seqs, default=self.start_seq) < seq:
                self.changed.clear()
                await self.changed.wait()


async def post_all(run: Run, ws, count: int, total: int, acked: list[int]) -> None:
    """The poster: `count` messages with client_ids, spread over the fuzz, each resent until
    acknowledged (after `retry_after` when rate-limited), as a client does; their seqs go
    to `acked`."""
    assert (await recv_json(ws))["type"] == "welcome"
    for i in range(count):
        await run.reach(i * total // count)
        cid, body = f"p-{i}", f"poster message {i}"
        while True:
            await ws.send(json.dumps({"type": "message", "body": body, "client_id": cid}))
            try:
                answer = await poster_answer(ws, cid)
            except (TimeoutError, websockets.ConnectionClosed) as err:
                run.fail("poster", f"no answer to a post: {err!r}", None, cid)
                return
            if answer["type"] == "message":
                acked.append(answer["message"]["seq"])
                break
            if answer.get("code") != "rate_limited":
                run.fail("poster", f"post refused: {answer.get('code')}", None, str(answer))
                break
            await asyncio.sleep(answer["retry_after"])  # the protocol's own wait


async def poster_answer(ws, cid: str) -> dict[str, Any]:
    async with asyncio.timeout(ANSWER_TIMEOUT):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error" and msg.get("client_id") == cid:
                return msg
            mine = msg["type"] == "message" and msg["message"]["user"] == POSTER
            if mine and msg["message"].get("client_id") == cid:
                return msg


class Churner:
    """Sockets of another user in the room that open and close at once, every way."""

    def __init__(self, run: Run, cookie: str, plans: list[ff.ChurnPlan]) -> None:
        self.run, self.cookie, self.plans = run, cookie, plans
        self.done = collections.Counter()

    async def churn(self) -> None:
        for i, plan in enumerate(self.plans):
            await self.run.reach((i + 1) * CHURN_EVERY)
            if self.run.stopping.is_set():
                return
            for frame in plan.frames:
                self.run.note_frame("churner", frame)
            try:
                await getattr(self, plan.mode)(plan)
            except (OSError, websockets.InvalidHandshake) as err:
                self.run.fail("churner", f"{plan.mode}: {type(err).__name__}", None, str(err))
            self.run.sent["churner"] += len(plan.frames)
            self.done[plan.mode] += 1

    async def connect(self):
        return await ws_connect(self.run.server, ROOM, self.cookie)

    def check_close(self, ws, plan: ff.ChurnPlan) -> None:
        """We closed: the server must have answered with a normal close."""
        if ws.close_code not in (1000, 1005):
            self.run.fail("churner", f"{plan.mode}: closed with {ws.close_code}", None, str(plan))

    async def close(self, plan: ff.ChurnPlan) -> None:
        ws = await self.connect()
        await ws.close()
        self.check_close(ws, plan)

    async def abort(self, plan: ff.ChurnPlan) -> None:
        ws = await self.connect()
        ws.transport.abort()

    async def send_close(self, plan: ff.ChurnPlan) -> None:
        ws = await self.connect()
        for frame in plan.frames:
            await ws.send(frame.payload)
        await ws.close()
        self.check_close(ws, plan)

    async def send_abort(self, plan: ff.ChurnPlan) -> None:
        ws = await self.connect()
        for frame in plan.frames:
            await ws.send(frame.payload)
        ws.transport.abort()

    async def polite(self, plan: ff.ChurnPlan) -> None:
        """Read the welcome, send the frames at once (posts among them are stored in one
        batch) and a fence, read up to the fence's pong, close."""
        async with await self.connect() as ws:
            welcome = await recv_json(ws)
            if welcome["type"] != "welcome":
                self.run.fail("churner", "polite: no welcome first", None, str(welcome)[:300])
            for frame in plan.frames:
                await ws.send(frame.payload)
            await ws.send(FENCE)
            pongs = sum(expectation(f, owner=False, stored={}).pongs for f in plan.frames) + 1
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT):
                    while pongs:
                        pongs -= json.loads(await ws.recv())["type"] == "pong"
            except (TimeoutError, websockets.ConnectionClosed) as err:
                frames = [f.short(120) for f in plan.frames]
                self.run.fail("churner", f"polite: no fence pong ({err!r})", None, str(frames))
        self.check_close(ws, plan)

    async def raw_handshake(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.run.server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws/chat/{ROOM}/ HTTP/1.1\r\nHost: 127.0.0.1:{self.run.server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {self.run.server.url}\r\nCookie: {self.cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        return reader, writer

    async def handshake_cut(self, plan: ff.ChurnPlan) -> None:
        _, writer = await self.raw_handshake()
        writer.transport.abort()

    async def frame_cut(self, plan: ff.ChurnPlan) -> None:
        reader, writer = await self.raw_handshake()
        async with asyncio.timeout(ANSWER_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        # A text frame of 200 to 60,000 bytes, of which only the first half is sent.
        payload = plan.frames[0].payload if plan.frames else ""
        data = (payload if isinstance(payload, bytes) else payload.encode())[:60_000]
        data = data.ljust(200)
        mask = os.urandom(4)
        header = bytes([0x81, 0x80 | 126]) + len(data).to_bytes(2, "big") + mask
        half = data[: len(data) // 2]
        writer.write(header + bytes(b ^ mask[i % 4] for i, b in enumerate(half)))
        await writer.drain()
        writer.transport.abort()


class Target:
    """A target user connected to the fuzzer's own room: kicked and banned by the fuzz, it
    comes back (after 50 more frames when banned). Its socket closes only with 4403."""

    def __init__(self, run: Run, cookie: str) -> None:
        self.run, self.cookie = run, cookie
        self.closes = collections.Counter()

    async def lurk(self) -> None:
        while not self.run.stopping.is_set():
            try:
                ws = await ws_connect(self.run.server, OWN_ROOM, self.cookie)
            except websockets.InvalidStatus as refused:
                self.closes[f"refused {refused.response.status_code}"] += 1
                await self.run.reach(self.run.frames_done + 50)
                continue
            stop = asyncio.ensure_future(self.run.stopping.wait())
            reading = asyncio.ensure_future(self.read(ws))
            await asyncio.wait({stop, reading}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not reading.done():
                reading.cancel()
                await ws.close()
                return
            code = ws.close_code
            self.closes[code] += 1
            if code != 4403:
                self.run.fail("target1", f"the target's socket closed with {code}", None, "")

    async def read(self, ws) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass


async def replay(run: Run, cookies: dict[str, str], who: str, frame: ff.Frame) -> str | None:
    """Send `frame` alone on a fresh socket (in the room it was fuzzed in); the new log
    text if it brought an ERROR or a traceback."""
    room = OWN_ROOM if who == "owner" else ROOM
    run.log_file.read()
    try:
        async with await ws_connect(run.server, room, cookies[FUZZER]) as ws:
            await recv_json(ws)
            await ws.send(frame.payload)
            await ws.send(FENCE)
            async with asyncio.timeout(ANSWER_TIMEOUT):
                while json.loads(await ws.recv())["type"] != "pong":
                    pass
    except (websockets.ConnectionClosed, TimeoutError):
        pass
    new = run.log_file.read().decode("utf-8", "replace")
    return new if LOG_ERROR.search(new) else None


def create_users(env: dict[str, str]) -> None:
    """All the users in one process, with one password hash (each costs ~0.3 s of CPU)."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.hashers import make_password\n"
        f"U = get_user_model(); hashed = make_password({PASSWORD!r})\n"
    )
    for name in sorted(USERS):
        code += f"U.objects.create(username={name!r}, password=hashed, is_staff={name == STAFF})\n"
    manage(env, "shell", "-c", code)


def boot(env: dict[str, str], live_server_factory) -> tuple[LiveServer, dict[str, str]]:
    """The users, a daphne, and the session cookie (a login through the site) of each user
    that connects."""
    create_users(env)
    server = live_server_factory(env)
    names = [FUZZER, VICTIM, POSTER, CHURNER, HOST, PLAIN_TARGETS[0]]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        cookies = pool.map(lambda name: login(server.url, name, PASSWORD), names)
        return server, dict(zip(names, cookies, strict=True))


def report(run: Run) -> str:
    """The failures, one per kind, each with the shortest frame that failed that way."""
    shortest: dict[tuple[str, str], Failure] = {}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for failure in run.failures:
        key = (failure.where, failure.problem)
        counts[key] += 1
        best = shortest.get(key)
        size = failure.frame.size if failure.frame is not None else 0
        if best is None or (best.frame is not None and size < best.frame.size):
            shortest[key] = failure
    return "\n".join(f"{counts[key]}x {f.describe()}" for key, f in shortest.items())


async def test_protocol_fuzz(live_env, live_server_factory):
    started = time.monotonic()
    env = {**live_env, **ENV, "SECRET_KEY": live_env.get("SECRET_KEY") or "fuzz-" + "k" * 60}
    # The server starts (in another thread: mostly waiting for other processes) while this
    # one draws the frames.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        booting = pool.submit(boot, env, live_server_factory)
        protected = (VICTIM, POSTER, CHURNER, HOST)
        frames_strategy = ff.frames(TARGETS, avoid=protected, seed=SEED)
        frames = ff.draw_many(frames_strategy, FRAMES, seed=SEED)
        plans = ff.churn_plans(frames_strategy, FRAMES // CHURN_EVERY + 1, seed=SEED)
        drawn = time.monotonic()
        server, cookies = booting.result()
    booted = time.monotonic()
    run = Run(server)
    try:
        # The rooms: `host` creates the shared one, the fuzzer its own (first visits).
        async with await ws_connect(server, ROOM, cookies[HOST]) as ws:
            assert (await recv_json(ws))["type"] == "welcome"
        member = FuzzSocket(run, "member", ROOM, cookies[FUZZER], owner=False)
        owner = FuzzSocket(run, "owner", OWN_ROOM, cookies[FUZZER], owner=True)
        await owner.open()
        await member.open()
        victim = Reader(run, await ws_connect(server, ROOM, cookies[VICTIM]))
        poster_ws = await ws_connect(server, ROOM, cookies[POSTER])
        churner = Churner(run, cookies[CHURNER], plans)
        target = Target(run, cookies[PLAIN_TARGETS[0]])
        opened = time.monotonic()
        cpu_at_open = (cpu_seconds(server.proc.pid), time.process_time())

        reading = asyncio.ensure_future(victim.read())
        helpers = [
            asyncio.ensure_future(churner.churn()),
            asyncio.ensure_future(target.lurk()),
        ]
        acked: list[int] = []
        posting = asyncio.ensure_future(post_all(run, poster_ws, POSTS, FRAMES, acked))
        await asyncio.gather(member.fuzz(frames[0::2]), owner.fuzz(frames[1::2]))
        fuzzed = time.monotonic()
        cpu = (cpu_seconds(server.proc.pid) - cpu_at_open[0], time.process_time() - cpu_at_open[1])
        run.stopping.set()
        if run.aborted:  # too many failures: the posts not made yet are not made
            posting.cancel()
        else:
            await posting
        await asyncio.gather(*helpers)

        last_seq = own_last = -1
        try:
            last_seq, own_last = await final_checks(run, member, owner, victim, poster_ws, acked)
        except (TimeoutError, websockets.WebSocketException) as err:
            run.fail("end of run", "the final pings got no pong", None, repr(err))
        if server.proc.poll() is not None:
            run.fail("server", f"daphne exited with {server.proc.returncode}", None, "")
        await poster_ws.close()
        await victim.ws.close()
        await reading
        await pin_log_errors(run, cookies)
    finally:
        run.stopping.set()
        run.close()

    sent = sum(run.sent.values())
    print(
        f"\nfuzz: {sent} frames sent ({dict(run.sent)}) in {fuzzed - opened:.1f} s; "
        f"drawing {drawn - started:.1f} s, setup {booted - started:.1f} s (at the same time), "
        f"total {time.monotonic() - started:.1f} s\n"
        f"  answers (shared room): {dict(member.answers.most_common())}\n"
        f"  answers (own room): {dict(owner.answers.most_common())}\n"
        f"  shared room: last_seq {last_seq}, victim saw {len(victim.seqs)}, poster acked "
        f"{len(acked)}; own room: last_seq {own_last}; churn {dict(churner.done)}; "
        f"target closes {dict(target.closes)}; reconnects {member.reconnects + owner.reconnects}\n"
        f"  CPU during the fuzz: daphne {cpu[0]:.1f} s, this process {cpu[1]:.1f} s\n"
        f"  ms to the fence, by command: {fence_times(member, owner)}"
    )
    if run.failures:
        pytest.fail(f"{len(run.failures)} failures:\n{report(run)}", pytrace=False)
    assert run.sent["member"] + run.sent["owner"] >= FRAMES


async def final_checks(
    run: Run, member: FuzzSocket, owner: FuzzSocket, victim: Reader, poster_ws, acked: list[int]
) -> tuple[int, int]:
    """Where each room stands, and whether every socket got all of it; the rooms' last seqs."""
    await poster_ws.send(FENCE)
    last_seq = (await pong(poster_ws))["last_seq"]
    await owner.ws.send(FENCE)
    own_last = (await pong(owner.ws, owner.live))["last_seq"]
    await member.ws.send(FENCE)
    await pong(member.ws, member.live)
    with contextlib.suppress(TimeoutError):
        await victim.wait_for(last_seq)

    check_room(run, "member", member, last_seq)
    check_room(run, "owner", owner, own_last)
    expected = list(range(victim.start_seq + 1, last_seq + 1))
    if victim.seqs != expected:
        detail = gap_report(victim.seqs, expected)
        run.fail("victim", "live messages not 1..last_seq in order", None, detail)
    poster_seqs = [m["seq"] for m in victim.messages if m["user"] == POSTER]
    complete = not run.aborted and len(acked) == POSTS
    if set(acked) - set(poster_seqs) or (
        not run.aborted and (acked != poster_seqs or not complete)
    ):
        detail = f"acked {len(acked)} of {POSTS}; the victim saw {len(poster_seqs)}"
        run.fail("victim", "the poster's acknowledged messages", None, detail)
    in_room = collections.Counter(
        (m["body"], m.get("client_id")) for m in victim.messages if m["user"] == FUZZER
    )
    if in_room != member.expected_bodies:
        detail = counter_diff(member.expected_bodies, in_room)
        run.fail("victim", "the fuzzer's stored posts", None, detail)
    authors = {m["seq"]: m["user"] for m in victim.messages}
    for seq in member.ok_deletes:
        if authors.get(seq) != FUZZER:
            detail = f"seq {seq} by {authors.get(seq)}"
            run.fail("member", "a plain member deleted someone else's message", None, detail)
    return last_seq, own_last


async def pin_log_errors(run: Run, cookies: dict[str, str]) -> None:
    """Each ERROR or traceback in the log becomes a failure, pinned to its frame: one of the
    frames in flight when it was written that failed otherwise too, or that brings it again
    when replayed alone on a fresh socket."""
    run.check_log()
    failed = {id(f.frame) for f in run.failures if f.frame is not None}
    replays = 0
    for text, suspects in run.log_events:
        culprit, how = None, "not reproduced by replaying the frames in flight"
        for who, frame in dict.fromkeys(suspects):
            if id(frame) in failed:
                culprit, how = frame, f"the {who} socket's frame, which failed too"
                break
        else:
            for who, frame in dict.fromkeys(suspects):
                if replays >= 12:
                    how = "not replayed (too many)"
                    break
                replays += 1
                if await replay(run, cookies, who, frame):
                    culprit, how = frame, f"reproduced by the {who} socket's frame alone"
                    break
        run.failures.append(
            Failure(
                "server log", "ERROR or traceback in the log", culprit, f"{how}:\n{excerpt(text)}"
            )
        )
    if LOG_ERROR.search(run.server.log()) and not run.log_events:
        excerpt_text = excerpt(run.server.log())
        run.failures.append(
            Failure("server log", "ERROR or traceback in the log", None, excerpt_text)
        )


async def pong(ws, live: list | None = None) -> dict[str, Any]:
    async with asyncio.timeout(ANSWER_TIMEOUT):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "pong":
                return msg
            if msg["type"] == "message" and live is not None:
                live.append(msg["message"])


def check_room(run: Run, name: str, sock: FuzzSocket, last_seq: int) -> None:
    """A fuzzing socket got every message of its room (once, or once more per resend
    answer), and the room holds exactly the posts it was told were stored."""
    copies = collections.Counter(m["seq"] for m in sock.live)
    missing = [s for s in range(1, last_seq + 1) if s not in copies]
    by_seq = {m["seq"]: m for m in sock.live}
    extra = [
        s
        for s, n in copies.items()
        if n > 1 + sock.resent.get(by_seq[s].get("client_id"), 0) or s > last_seq
    ]
    if missing or extra:
        run.failures.append(
            Failure(
                name,
                "the fuzzing socket's messages",
                None,
                f"missing seqs {missing[:20]}, extra copies {extra[:20]}",
            )
        )
    if name == "owner":
        mine = collections.Counter(
            (m["body"], m.get("client_id")) for m in by_seq.values() if m["user"] == FUZZER
        )
        if mine != sock.expected_bodies:
            run.failures.append(
                Failure(
                    name,
                    "the fuzzer's stored posts",
                    None,
                    counter_diff(sock.expected_bodies, mine),
                )
            )


def ok_problem(ok: dict[str, Any], command: dict[str, Any]) -> str | None:
    """An `ok` carries the seq (delete, report), the user (user actions) or the room
    (room_settings) it acted on."""
    kind = command["type"]
    if kind in ("delete", "report", *RICH) and ok.get("seq") != command["seq"]:
        return f"ok seq {ok.get('seq')!r}, not {command['seq']!r}"
    if kind in USER_ACTIONS and ok.get("user") != command["user"]:
        return f"ok user {ok.get('user')!r}, not {command['user']!r}"
    if kind == "room_settings":
        room = ok.get("room")
        if not isinstance(room, dict) or room.get("slug") != OWN_ROOM:
            return f"ok room {room!r}"
        for name, field_name in (("locked", "locked"), ("slow_mode", "slow_mode")):
            if command.get(name) is not None and room.get(field_name) != command[name]:
                return f"ok room {name} {room.get(field_name)!r}, not {command[name]!r}"
    return None


def history_problem(page: dict[str, Any], command: dict[str, Any]) -> str | None:
    """A history page: at most `limit` messages, oldest first, with no gap (seqs have none),
    on the side of `before` or `after` asked for, starting right after `after`."""
    messages = page.get("messages")
    if not isinstance(messages, list) or not isinstance(page.get("has_more"), bool):
        return "history: no messages list or has_more"
    seqs = [m.get("seq") for m in messages]
    before, after = command.get("before"), command.get("after")
    limit = command.get("limit")
    limit = 50 if limit is None else limit
    if len(seqs) > limit:
        return f"history: {len(seqs)} messages for limit {limit}"
    if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        return f"history: seqs {seqs[:10]}... not consecutive, oldest first"
    if seqs and before is not None and seqs[-1] >= before:
        return f"history: seq {seqs[-1]} not before {before}"
    if seqs and after is not None and seqs[0] != after + 1:
        return f"history: first seq {seqs[0]} after {after}"
    return None


MESSAGE_FIELDS = {"seq": int, "user": str, "body": str, "ts": str, "deleted": bool}
# Version 2 (docs/protocol.md, "Rich messages").
MESSAGE_FIELDS |= {"html": str, "mentions": list, "reactions": list}


def message_problem(m: dict[str, Any]) -> str | None:
    """What is wrong with a new message object (docs/protocol.md, "A message object")."""
    extra = set(m) - {*MESSAGE_FIELDS, "client_id", "edited_ts", "reply_to"}
    missing = {*MESSAGE_FIELDS, "edited_ts", "reply_to"} - set(m)
    if extra or missing:
        return f"message object: fields {sorted(extra)} extra, {sorted(missing)} missing"
    for name, kind in MESSAGE_FIELDS.items():
        if not isinstance(m[name], kind):
            return f"message object: {name} is not {kind.__name__}"
    if "client_id" in m and not isinstance(m["client_id"], str):
        return "message object: client_id is not a string"
    if m["edited_ts"] is not None or m["deleted"]:
        return "message object: a new message is edited or deleted"
    try:
        datetime.fromisoformat(m["ts"])
    except ValueError:
        return "message object: ts is not ISO 8601"
    if m["body"] != m["body"].strip() or not m["body"]:
        return "message object: the body is not stripped, or empty"
    if m["reply_to"] is not None or m["reactions"] or not m["html"]:
        return "message object: a new post (no reply_to sent) has a reply, reactions or no html"
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fence_times(*socks: FuzzSocket) -> str:
    seconds = sum((s.seconds for s in socks), collections.Counter())
    count = sum((s.count for s in socks), collections.Counter())
    return ", ".join(
        f"{row} {seconds[row] / count[row] * 1000:.1f} (x{count[row]})"
        for row in sorted(count, key=lambda r: -seconds[r])
    )


def gap_report(seqs: list[int], expected: list[int]) -> str:
    missing = sorted(set(expected) - set(seqs))
    dupes = [s for s, n in collections.Counter(seqs).items() if n > 1]
    disorder = [(a, b) for a, b in itertools.pairwise(seqs) if b <= a]
    return (
        f"{len(seqs)} received, {len(expected)} expected; missing {missing[:20]}, "
        f"duplicates {dupes[:20]}, out of order {disorder[:10]}"
    )


def counter_diff(expected: collections.Counter, got: collections.Counter) -> str:
    lost = list((expected - got).items())[:5]
    surplus = list((got - expected).items())[:5]
    return (
        f"{sum(expected.values())} expected, {sum(got.values())} in the room; told stored "
        f"but not there: {lost!r:.600}; there but not told stored: {surplus!r:.600}"
    )


def excerpt(log: str) -> str:
    """The first ERROR of `log` with its traceback's last lines (where it was raised)."""
    lines = log.splitlines()
    hits = [i for i, line in enumerate(lines) if LOG_ERROR.search(line)]
    if not hits:
        return "\n".join(lines[-10:])
    first = hits[0]
    end = next(
        (i for i in range(first + 1, len(lines)) if re.match(r"\d{4}-\d\d-\d\d ", lines[i])),
        len(lines),
    )
    block = lines[first:end]
    shown = block if len(block) <= 12 else [*block[:2], "    ...", *block[-8:]]
    return "\n".join("    | " + line for line in shown)
