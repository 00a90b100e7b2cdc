"""`python -m chat.client --url ws://HOST --room lobby --token TOKEN [--json]`: chat in a
room from a terminal (docs/client.md). Each line typed is a message; Ctrl-D (end of input)
waits for the posts to be stored and exits; Ctrl-C exits at once."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import threading
from collections.abc import Sequence

from chat.client.display import Display, JsonDisplay
from chat.client.session import Exit, Session

SLUG = re.compile(r"[A-Za-z0-9_-]{1,50}")


def room_slug(text: str) -> str:
    if not SLUG.fullmatch(text):
        raise argparse.ArgumentTypeError("a room slug is 1 to 50 letters, digits, '-' or '_'")
    return text.lower()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chat.client",
        description="Chat in a room from a terminal: history and live messages out, each "
        "line typed in is a message.",
    )
    parser.add_argument(
        "--url", required=True, help="the server's base URL, e.g. ws://127.0.0.1:8000"
    )
    parser.add_argument("--room", type=room_slug, default="lobby", help="room slug (lobby)")
    parser.add_argument(
        "--token",
        default=os.environ.get("CHAT_TOKEN"),
        help="API token (manage.py create_api_token <user>); default: $CHAT_TOKEN",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON message object per line (a seq seen again is an update)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="at end of input, how long to wait for unacknowledged posts (5)",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or $CHAT_TOKEN")
    return args


def read_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """stdin lines into `queue`, then None at end of input. A thread: a blocking read
    works the same on a terminal, a pipe or a file."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def feed(session: Session) -> None:
    """Post each non-blank line typed until the end of input."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_lines, args=(loop, queue), daemon=True).start()
    while (line := await queue.get()) is not None:
        body = line.rstrip("\r\n")
        if body.strip():  # a blank line is not a message (the server would say `empty`)
            session.post(body)


async def chat(session: Session, drain_timeout: float) -> Exit:
    runner = asyncio.create_task(session.run())
    reader = asyncio.create_task(feed(session))
    await asyncio.wait({runner, reader}, return_when=asyncio.FIRST_COMPLETED)
    if not runner.done():  # end of input: let the outbox drain, then leave
        if not await session.drain(drain_timeout):
            if session.outbox:
                session.display.status(f"{len(session.outbox)} message(s) not acknowledged")
            else:
                session.display.status(f"not connected within {drain_timeout:g} s")
        await session.stop()
    reader.cancel()
    code = await runner
    if code is Exit.OK and (session.outbox or session.failed or not session.welcomed):
        return Exit.UNSENT
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    display = JsonDisplay() if args.json else Display()
    session = Session(args.url, args.room, args.token, display)
    try:
        return int(asyncio.run(chat(session, args.drain_timeout)))
    except BrokenPipeError:  # the reader of our stdout went away (`| head -3`): done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(Exit.OK)
    except KeyboardInterrupt:
        unsent = f"; {len(session.outbox)} message(s) not acknowledged" if session.outbox else ""
        display.status(f"interrupted{unsent}")
        return int(Exit.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
