"""The ceiling: a bare `websockets` server, one room, websockets.broadcast().

It speaks the tutorial's frames ({"message": ...} in and out) and, like a real server,
encodes each outgoing frame once. Run: python -m bench.bare --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import json

import websockets
from websockets.asyncio.server import ServerConnection, broadcast, serve

CLIENTS: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    CLIENTS.add(ws)
    try:
        async for text in ws:
            message = json.loads(text)["message"]
            broadcast(CLIENTS, json.dumps({"message": message}))
    except websockets.ConnectionClosed:
        pass
    finally:
        CLIENTS.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:  # the same event loop uvicorn uses, so the ceiling is not held down by asyncio's
        import uvloop

        uvloop.run(main(port))
    except ImportError:
        asyncio.run(main(port))
