"""The client's delivery rules (docs/protocol.md "The client"), without the socket:
static/chat/delivery.js's SeqOrder and backoff, plus the outbox, in Python."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chat.errors import ErrorCode

BACKOFF_MIN = 0.5  # seconds
BACKOFF_MAX = 30.0

# Refusals after which a post is reported failed and never resent; any other code
# (unavailable, rate_limited) means "nothing stored: send the same client_id again".
FINAL_CODES = frozenset(
    {ErrorCode.TOO_LONG, ErrorCode.EMPTY, ErrorCode.FORBIDDEN, ErrorCode.BAD_REQUEST}
)

Message = dict[str, Any]


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """ "Equal jitter": attempt n waits between half and all of min(30 s, 0.5 s * 2^n), so
    clients cut off together by a restart do not all come back in the same instant."""
    base = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** min(attempt, 16))
    return base / 2 + rand() * (base / 2)


class SeqOrder:
    """Display by seq. `last` is the highest seq shown, and every seq up to it is shown."""

    def __init__(self, last: int = 0) -> None:
        self.last = last
        self.ahead: dict[int, Message] = {}  # seq -> message received beyond a gap

    def take(self, messages: Iterable[Message]) -> tuple[list[Message], list[Message]]:
        """Take a batch (a live frame, a welcome, a history page). Returns (display, known):
        what to show now, in seq order, and the messages at or below `last` (duplicates, or
        a newer view of a shown one). What lies beyond a gap waits in `ahead`."""
        known: list[Message] = []
        for message in messages:
            seq = message.get("seq")
            if not isinstance(seq, int):
                continue
            if seq <= self.last:
                known.append(message)
            else:
                self.ahead[seq] = message
        display: list[Message] = []
        while self.last + 1 in self.ahead:
            display.append(self.ahead.pop(self.last + 1))
            self.last += 1
        return display, known

    def skip_purged(self, after: int, messages: Iterable[Message]) -> int:
        """A page read from just above `after` (history `after`, or a resume welcome from
        `since`) starts at the first message that exists there: a start above last + 1 means
        the seqs between were purged (retention) and never come, so move past them. Only a
        page from at or below `last` proves it; an empty page proves nothing. Call it before
        take(); returns how many seqs were skipped."""
        if after < 0 or after > self.last:
            return 0
        seqs = [m["seq"] for m in messages if isinstance(m.get("seq"), int) and m["seq"] > after]
        if not seqs or min(seqs) <= self.last + 1:
            return 0
        skipped = min(seqs) - 1 - self.last
        self.last = min(seqs) - 1
        self.ahead = {seq: m for seq, m in self.ahead.items() if seq > self.last}
        return skipped

    @property
    def gap(self) -> bool:
        """Messages are held beyond a gap: fetch it with history `after: last`."""
        return bool(self.ahead)


@dataclass
class Post:
    client_id: str
    body: str
    sent_at: float | None = None  # when it last went out on a socket; None: not on this one
    not_before: float = 0.0  # rate_limited / unavailable: not again until then


class Outbox:
    """Posts not yet acknowledged, in the order typed. A post leaves it when the stored
    message carrying its client_id (and our username) comes back, or on a final error.
    Resending is always safe: the server stores a client_id once."""

    def __init__(self, ack_timeout: float = 10.0) -> None:
        self.ack_timeout = ack_timeout
        self.posts: dict[str, Post] = {}

    def __len__(self) -> int:
        return len(self.posts)

    def add(self, body: str) -> Post:
        # Random, not a counter: unique per sender across runs of the client too.
        post = Post(client_id=f"t-{secrets.token_hex(8)}", body=body)
        self.posts[post.client_id] = post
        return post

    def acknowledge(self, messages: Iterable[Message], username: str | None) -> list[Post]:
        """The posts these messages acknowledge (taken out of the outbox)."""
        done = []
        for message in messages:
            client_id = message.get("client_id")
            if message.get("user") == username and client_id in self.posts:
                done.append(self.posts.pop(client_id))
        return done

    def refused(self, client_id: Any, code: str, retry_after: Any, now: float) -> Post | None:
        """An `error` naming one of our posts. Returns the post when the refusal is final
        (it leaves the outbox); else it waits retry_after (rate_limited) or a second
        (unavailable) and goes out again."""
        post = self.posts.get(client_id) if isinstance(client_id, str) else None
        if post is None:
            return None
        if code in FINAL_CODES:
            return self.posts.pop(post.client_id)
        try:
            wait = max(float(retry_after), 0.0) if retry_after is not None else 1.0
        except (TypeError, ValueError):
            wait = 1.0
        post.sent_at = None
        post.not_before = now + wait
        return None

    def disconnected(self) -> None:
        """A new socket: everything goes out again, at once (the wait was for the old one)."""
        for post in self.posts.values():
            post.sent_at = None
            post.not_before = 0.0

    def due(self, now: float) -> list[Post]:
        """Posts to send now: never sent on this socket (and past their wait), or sent and
        not acknowledged within ack_timeout."""
        return [
            p
            for p in self.posts.values()
            if (p.sent_at is None and now >= p.not_before)
            or (p.sent_at is not None and now - p.sent_at > self.ack_timeout)
        ]
