"""WebSocket URL routes. The room part is matched loosely and validated by the consumer, so
a bad slug is refused with a clean HTTP 403 at the handshake rather than a routing error."""

from typing import Any

from django.urls import re_path

from .consumers import ChatConsumer, HomeConsumer


async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Any other WebSocket path: refuse the handshake (HTTP 403) instead of a server error."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


websocket_urlpatterns = [
    re_path(r"^ws/chat/?$", HomeConsumer.as_asgi()),
    re_path(r"^ws/chat/(?P<room>[^/]*)/?$", ChatConsumer.as_asgi()),
    re_path(r"", refuse),
]
