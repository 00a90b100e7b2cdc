"""The protocol's vocabulary of failure: error codes, close codes, and the typed refusals a
command can fail with (each becomes an `error` frame, docs/protocol.md "Error codes").

Raise the refusal that says what happened (`Forbidden("...")`, `RateLimited(..., retry_after=2)`),
never a bare code string: the codes live here once, for the parser, the services, the
consumer, the REST API and the page's scripts (chat/commands.py hands them to the page).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"  # malformed: fix the client, do not retry
    EMPTY = "empty"  # a blank body
    TOO_LONG = "too_long"  # a body or frame over its limit
    RATE_LIMITED = "rate_limited"  # retry after `retry_after` seconds
    FORBIDDEN = "forbidden"  # muted, locked, not allowed
    UNAVAILABLE = "unavailable"  # the database could not do it: retry the same client_id


class CloseCode(IntEnum):
    """Close codes after the handshake (1009 and 1011 are the WebSocket standard's). Pass
    `int(code)` across the ASGI and channel-layer boundaries: autobahn (daphne) refuses a
    close code whose type is not exactly int, and msgpack cannot pack an IntEnum."""

    TRY_AGAIN = 1013  # the standard's "try again later": the welcome's read failed
    REMOVED = 4403  # banned, kicked, removed, logged out, session ended
    ROOM_DELETED = 4404
    TOO_SLOW = 4408  # fell CHAT_SEND_BUFFER_BYTES behind; resume with `since`


class ChatError(Exception):
    """A command was refused. `extra` travels in the error frame (e.g. retry_after)."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, code: ErrorCode | str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.code = ErrorCode(code)
        self.detail = detail
        self.extra = extra


class _Refusal(ChatError):
    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(type(self).code, detail, **extra)


class BadRequest(_Refusal):
    code = ErrorCode.BAD_REQUEST


class Empty(_Refusal):
    code = ErrorCode.EMPTY


class TooLong(_Refusal):
    code = ErrorCode.TOO_LONG


class RateLimited(_Refusal):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, detail: str, *, retry_after: float, **extra: object) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)


class Forbidden(_Refusal):
    code = ErrorCode.FORBIDDEN


class Unavailable(_Refusal):
    code = ErrorCode.UNAVAILABLE


def bad_request(detail: str) -> ChatError:
    return BadRequest(detail)
