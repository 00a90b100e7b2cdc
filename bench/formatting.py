"""The `render` scenario: how long chat.formatting.render takes on 4,000-character bodies
built to be slow for a Markdown parser (unclosed brackets and delimiters, entity starts,
line breaks, mentions), against plain prose and realistic messages.

Measured in the bench's own process (render needs no server, no database and no Django):
each body is rendered `warmup` times, then `repeats` times, timed one by one in CPU time
(thread_time) and wall-clock time; the row has the median and the max in ms, µs per
character, and the ratio of the median to plain prose's. tests/test_formatting.py renders
the same KINDS (without timing: speed targets live here, never in unit tests).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from typing import Any

LENGTH = 4000  # CHAT_MAX_MESSAGE_LENGTH

_PROSE = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the agenda. "
    "Nobody expected the meeting to run long, but the questions kept coming and the "
    "answers took their time. "
)
# What people write: a bit of everything the subset has, every line.
_REALISTIC = (
    "Hey @alice, the **deploy** is done: see https://www.djangoproject.com/ and "
    "[the runbook](https://example.com/runbook#step-2).\n"
    "- fixed `fanout.py` _for real_ this time\n"
    "- ~~flaky~~ test passes\n"
    "> are we sure?\n"
    "```\nprint('hello <world>')\n```\n"
)


def _fill(unit: str, length: int = LENGTH) -> str:
    return (unit * (length // len(unit) + 1))[:length]


# Each body is exactly LENGTH characters (the longest message the site accepts) except the
# typical one (1,000).
KINDS: dict[str, str] = {
    "[ x4000": "[" * 4000,
    "![ x2000": "![" * 2000,
    "*_ x2000": "*_" * 2000,
    "[]( x1333": _fill("[]("),
    "*a x2000": "*a" * 2000,
    "a\\n x2000": "a\n" * 2000,
    "< x4000": "<" * 4000,
    "&# x2000": "&#" * 2000,
    "@a x2000": "@a" * 2000,
    "@a+space x1333 (mentions)": _fill("@a "),
    "long URL": _fill("https://example.com/" + "a" * LENGTH),
    # Block nesting: each line of a quote nested N deep is looked at again at every level
    # (lazy continuation), so the cost is lines x depth, bounded by the block nesting limit
    # (chat.formatting.BLOCK_NESTING, 10): 9 deep is the deepest rendered once; a body that
    # reaches the limit is rendered a second time without quotes and lists.
    "> x9 then x\\n lines": _fill("> " * 9 + "x\n" * LENGTH),
    "> x50 then x\\n lines": _fill("> " * 50 + "x\n" * LENGTH),
    "fence in > x50": _fill("> " * 50 + "```\n" + "x\n" * LENGTH),
    "plain prose": _fill(_PROSE),
    "realistic formatted": _fill(_REALISTIC),
    "typical 1,000 chars": _fill(_REALISTIC, 1000),
}
PROSE = "plain prose"


# The formatted scenario: the burst with a Markdown-heavy text after each payload (bold,
# emphasis, inline code, a link, a bare URL, strikethrough, a mention of the sender, who
# exists: one lookup per post, and no notification, since nobody is told of mentioning
# themselves), against prose of the same length: the same bytes in, only the markup differs.
FORMATTED_TEXT = (
    "**deploy** is _done_: `fanout.py` fixed, see [the runbook](https://example.com/runbook) "
    "and https://www.djangoproject.com/ ~~flaky~~ @{sender}"
)
PLAIN_TEXT = (
    "the deploy is done and the fan-out module is fixed, see the runbook on the wiki and the "
    "project's page for the details, nothing flaky today, thanks to all of you and the team"
)


def burst_texts(sender: str) -> dict[str, str]:
    """{"plain": prose, "formatted": Markdown}, of the same length."""
    formatted = FORMATTED_TEXT.format(sender=sender)
    plain = _fill(PLAIN_TEXT, len(formatted))
    return {"plain": plain, "formatted": formatted}


def rendered_sizes(texts: dict[str, str], sender: str) -> dict[str, dict[str, int]]:
    """What each variant's message carries: the body's and the html's length (a payload's
    worth of digits in front, as the sender posts them)."""
    from chat.formatting import render

    sizes = {}
    for variant, text in texts.items():
        body = f"bench:123:{time.monotonic_ns()} {text}"
        out = render(body, lambda names: {n: sender for n in names if n == sender})
        sizes[variant] = {"body_chars": len(body), "html_chars": len(out.html)}
    return sizes


def _resolve(names: Iterable[str]) -> dict[str, str]:
    """As the site's lookup answers when everyone named exists (no database here: this
    measures rendering)."""
    return {name: name for name in names}


def measure(repeats: int, warmup: int = 2) -> list[dict[str, Any]]:
    """Each kind's render times in ms: CPU time of this thread (what rendering costs,
    whatever else the shared machine runs: a preempted render is not charged for the wait)
    and wall-clock time beside it."""
    from chat.formatting import render

    rows = []
    for kind, body in KINDS.items():
        for _ in range(warmup):
            render(body, _resolve)
        cpu, wall = [], []
        for _ in range(repeats):
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            render(body, _resolve)
            cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
            wall.append((time.perf_counter_ns() - started) / 1e6)
        median = statistics.median(cpu)
        rows.append(
            {
                "kind": kind,
                "chars": len(body),
                "repeats": repeats,
                "median_ms": round(median, 3),
                "max_ms": round(max(cpu), 3),
                "wall_median_ms": round(statistics.median(wall), 3),
                "wall_max_ms": round(max(wall), 3),
                "us_per_char": round(median * 1000 / len(body), 3),
            }
        )
    prose = next(r["median_ms"] for r in rows if r["kind"] == PROSE)
    for row in rows:
        row["vs_prose"] = round(row["median_ms"] / prose, 1) if prose else None
    return rows
