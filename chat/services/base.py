"""The `@service` wrapper and `emit`: events are published after the transaction that
wrote their state commits, and never when it rolls back.

A service writes the database and calls `emit(event, ...)` for what the channel layer must
carry. Inside a transaction (`transaction.atomic()`, the service's own or a caller's), the
events wait for its commit (Django's `on_commit`; a rollback drops them); outside one they
are ready at once. So services compose: one service may call another inside its own
transaction, and every event of both goes out once, after the one commit.

Where they go: the outermost service call collects the events that became ready while it
ran and publishes them when it returns: from sync code (views, the admin, commands) through
`async_to_sync`, from async code (`await svc.acall(...)`, the consumer) on the event loop
once the database thread is done, with no second thread hop. An event whose transaction
commits after the service returned (a caller's atomic block, as the admin's views hold) is
published by that commit.

As Zulip's `send_event_on_commit` (zerver/actions), with the database as the log: a lost
or late event only delays delivery (chat/fanout.py fills gaps from the database).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from .. import fanout

P = ParamSpec("P")
R = TypeVar("R")

_local = threading.local()  # .collected: the outermost running service's ready events


def emit(*events: fanout.Event) -> None:
    """Publish `events` once the current transaction commits (at once outside one)."""
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _ready(events))
    else:
        _ready(events)


def _ready(events: tuple[fanout.Event, ...]) -> None:
    collected = getattr(_local, "collected", None)
    if collected is not None:
        collected.extend(events)  # the running service publishes them when it returns
    else:
        async_to_sync(fanout.publish)(list(events))  # committed after the service returned


def _collecting(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> tuple[R, list]:
    """Run `fn`, returning its result and the events that became ready meanwhile (none
    when an outer service call is collecting: that one publishes them)."""
    if getattr(_local, "collected", None) is not None:
        return fn(*args, **kwargs), []
    _local.collected = collected = []
    try:
        return fn(*args, **kwargs), collected
    except BaseException:
        if collected:  # what committed before the failure still goes out
            async_to_sync(fanout.publish)(collected)
        raise
    finally:
        _local.collected = None


class Service(Generic[P, R]):
    """A state change: call it from sync code as `svc(...)`, from async code as
    `await svc.acall(...)`."""

    def __init__(self, fn: Callable[P, R]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = _collecting(self.fn, *args, **kwargs)
        if events:
            async_to_sync(fanout.publish)(events)
        return result

    async def acall(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result, events = await database_sync_to_async(_collecting)(self.fn, *args, **kwargs)
        if events:
            await fanout.publish(events)
        return result


def service(fn: Callable[P, R]) -> Service[P, R]:
    return Service(fn)
