"""The one exception type a command can fail with; it becomes an `error` frame."""


class ChatError(Exception):
    """A command was refused. `code` is one of the protocol's error codes."""

    def __init__(self, code: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra  # e.g. retry_after for rate_limited


def bad_request(detail: str) -> ChatError:
    return ChatError("bad_request", detail)
