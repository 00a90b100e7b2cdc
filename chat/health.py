"""GET /healthz: is this process able to serve? For load balancers and probes.

Checks the database (a query) and the channel layer (a real round trip: a message sent to
this process's probe channel and received back), each with a timeout. 200 when both pass,
503 otherwise, with JSON saying which failed. No login: it reveals nothing but up or down.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger("chat.health")

TIMEOUT = 3.0
RETRY_SECONDS = 1.0


def _query_database() -> None:
    # database_sync_to_async closes (or returns to the pool) the connection afterwards.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


class LayerProbe:
    """One probe channel per event loop, read by one long-lived task.

    Why not a fresh channel per check: cancelling a pending receive on the pub/sub layer
    unsubscribes in the background, and a failed subscribe leaves the channel behind; a
    reader that never gets cancelled has neither problem, and reconnects like the fan-out.
    """

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = ""
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_channel(self) -> None:
        async with self._lock:
            if not self.channel:
                self.channel = await self.layer.new_channel(prefix="health.")
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            waiter = self.waiting.pop(message.get("nonce", ""), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def round_trip(self) -> None:
        await self._ensure_channel()
        nonce = uuid.uuid4().hex
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[nonce] = waiter
        try:
            await self.layer.send(self.channel, {"type": "health.ping", "nonce": nonce})
            await waiter
        finally:
            self.waiting.pop(nonce, None)


_probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LayerProbe] = (
    weakref.WeakKeyDictionary()
)


def _probe() -> LayerProbe:
    loop = asyncio.get_running_loop()
    probe = _probes.get(loop)
    if probe is None:
        probe = _probes[loop] = LayerProbe()
    return probe


async def _timed(name: str, check: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(check(), TIMEOUT)
    except Exception as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        log.warning("health check %s failed: %s", name, reason)
        return {"ok": False, "error": reason}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


async def _database() -> None:
    await database_sync_to_async(_query_database)()


async def _channel_layer() -> None:
    await _probe().round_trip()


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    database, layer = await asyncio.gather(
        _timed("database", _database), _timed("channel_layer", _channel_layer)
    )
    ok = database["ok"] and layer["ok"]
    body = {"status": "ok" if ok else "unavailable", "database": database, "channel_layer": layer}
    return JsonResponse(body, status=200 if ok else 503)
