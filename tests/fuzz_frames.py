"""Hypothesis strategies for WebSocket frames of the chat protocol (docs/protocol.md), right
and wrong, for tests/test_fuzz.py.

`frames(targets)` draws one client frame: a command of every type the protocol has (and the
version-2 types it does not have yet), each field missing, right, or of a wrong type
(strings, ints, floats, bools, null, lists, objects; huge, negative, `1e999`, `NaN`), with
NUL characters, lone surrogates (as JSON escapes, so they reach the server), RTL and
zero-width characters and very long strings; also plain text, JSON that is not an object,
broken JSON, binary frames, frames just over 64 KiB and frames over 1 MiB. `churn_plans()`
draws what a socket that opens and closes at once does.

JSON is written by `dumps` here, not `json.dumps`: an object is a list of key/value pairs
(so a key may repeat, as `{"type": "ping", "type": "message"}`) and `Raw` inserts a token
verbatim (`1e999`, `NaN`, a 5,000-digit integer) that no Python value serializes to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

V1_COMMANDS = (
    "message",
    "history",
    "ping",
    "delete",
    "report",
    "mute",
    "unmute",
    "ban",
    "unban",
    "kick",
    "room_settings",
)
# Version 2 of PROTOCOL.md.
V2_COMMANDS = (
    "typing",
    "read",
    "edit",
    "react",
    "open_dm",
    "invite",
    "remove",
    "leave",
    "create_invitation",
    "revoke_invitation",
)

KIB = 1024
FRAME_LIMIT = 64 * KIB  # CHAT_MAX_FRAME_BYTES: larger is answered `too_long`
DAPHNE_LIMIT = 1024 * KIB  # larger ends the connection
SEQ_MAX = 2**63 - 1
MAX_BODY = 4000  # CHAT_MAX_MESSAGE_LENGTH


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written as is."""

    token: str


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object as key/value pairs: keys may repeat (the last one wins when parsed)."""

    pairs: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class Frame:
    """One client frame: `payload` is sent as a text frame (str) or a binary frame (bytes)."""

    payload: str | bytes
    label: str  # what the strategy meant to build, for reports ("history", "binary"...)

    @property
    def size(self) -> int:
        if isinstance(self.payload, bytes):
            return len(self.payload)
        return len(self.payload.encode("utf-8", "surrogatepass"))

    def short(self, width: int = 160) -> str:
        text = repr(self.payload)
        return text if len(text) <= width else f"{text[: width - 30]}...<{self.size} bytes>"


def dumps(value: object, *, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, Obj):
        items = (
            f"{dumps(k, ascii_only=ascii_only)}:{dumps(v, ascii_only=ascii_only)}"
            for k, v in value.pairs
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, dict):
        return dumps(Obj(tuple(value.items())), ascii_only=ascii_only)
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v, ascii_only=ascii_only) for v in value) + "]"
    # Strings, numbers, booleans, null. A lone surrogate cannot travel in a text frame (UTF-8)
    # except as an escape: `ascii_only` writes every non-ASCII character as \\uXXXX.
    return json.dumps(value, ensure_ascii=ascii_only)


def to_text(value: object, ascii_only: bool) -> str:
    text = dumps(value, ascii_only=ascii_only)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its escape can be sent
        text = dumps(value, ascii_only=True)
    return text


# --- values ---------------------------------------------------------------------------------

SPECIAL_CHARS = (
    "\x00",  # NUL: PostgreSQL refuses it in text
    "\ud800",  # lone high surrogate
    "\udfff",  # lone low surrogate
    "\ud83d\ude00",  # a surrogate pair: one astral character once parsed
    "\U0001f600",
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u061c",  # ARABIC LETTER MARK
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "\u200b",  # ZERO WIDTH SPACE (not white space: not stripped)
    "\u200d",  # ZERO WIDTH JOINER
    "\ufeff",  # BOM
    "\u2028",
    "\u2029",
    "\x85",
    "\u3000",  # IDEOGRAPHIC SPACE (white space)
    "e\u0301",
    "\x7f",
    "\x1b[31m",
    "\n",
    "\t",
    " ",
    "\\",
    '"',
    "<script>alert(1)</script>",
    "'; DROP TABLE chat_message; --",
    "%s%n",
    "{}",
    "null",
    "\uffff",
    "\U0010ffff",
)

short_text = st.text(max_size=12)
special_text = st.lists(
    st.sampled_from(SPECIAL_CHARS) | st.text(max_size=4), min_size=1, max_size=6
).map("".join)
# Around the body limit (4000 characters after stripping), with multi-byte and stripped
# characters, and far past it.
long_text = st.builds(
    lambda n, unit, pad: pad + unit * n + pad,
    st.sampled_from([MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, 5000, 15_000]),
    st.sampled_from(["x", "\u00e9", "\U0001f600", "\u200b", "\u05e9", "ab"]),
    st.sampled_from(["", " ", "\n\t "]),
)
texts = st.one_of(short_text, special_text, special_text, long_text)

RAW_NUMBERS = tuple(
    Raw(token)
    for token in (
        "1e999",  # parses as inf
        "-1e999",
        "NaN",  # not JSON, but Python's json reads it
        "Infinity",
        "-Infinity",
        "1.0",
        "1e2",
        "-0",
        "0.0",
        "1E400",
        "9" * 5000,  # past Python's 4300-digit int limit: the frame is not JSON
        "1" + "0" * 30,
        "0.1e-400",
    )
)
EDGE_INTS = (
    0,
    1,
    -1,
    2,
    50,
    99,
    100,
    101,
    3600,
    3601,
    527_040,
    527_041,
    2**31,
    2**53 + 1,
    SEQ_MAX,
    2**63,
    2**64,
    -(2**63),
    -(2**64),
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from(EDGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(RAW_NUMBERS),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            short_text | st.sampled_from(["type", "body", "seq"]), children, max_size=3
        )
    ),
    max_leaves=6,
)

MISSING = object()  # a field left out


# --- cheap strategies for the frames ------------------------------------------------------
#
# Hypothesis spends ~40 us per choice it draws, and the value strategies above make dozens
# of choices per value (a text of special characters, a nested JSON value): ~1.7 ms a frame,
# 17 s for 10,000. So the frames draw their texts and wrong-typed values from pools that
# those strategies filled once (a few hundred values each), and make few choices of their
# own: ~10 per frame.


@dataclass(frozen=True, slots=True)
class Pools:
    texts: tuple[str, ...]  # bodies, reasons, user names, plain-text frames
    wrong: tuple[object, ...]  # any JSON value: the wrong type for most fields
    non_objects: tuple[object, ...]  # JSON that is not an object (a frame that chats)


def make_pools(seed: int | None = None) -> Pools:
    fixed = ("", " ", "\u3000", "\n", "hi", "\u200b", "\x00", "\ud800", "x" * 500, "x" * 501)
    odd = (None, True, False, 0, -1, 1.5, "", [], {}, [[]], {"": {}}, *RAW_NUMBERS)
    non_objects = scalars | st.lists(json_values, max_size=3)
    return Pools(
        texts=(*fixed, *SPECIAL_CHARS, *draw_many(texts, 600, seed=seed)),
        wrong=(*odd, *draw_many(json_values, 600, seed=seed)),
        non_objects=tuple(draw_many(non_objects, 300, seed=seed)),
    )


def field(right: st.SearchStrategy, wrong: st.SearchStrategy) -> st.SearchStrategy:
    """A field's value: mostly right, otherwise of a wrong type, null, or missing."""
    return st.one_of(*[right] * 5, st.just(None), st.just(MISSING), wrong, wrong)


# Fields a command may leave out (the others are required, or it is malformed).
OPTIONAL = {
    "message": {"client_id"},
    "history": {"before", "after", "limit"},
    "delete": {"reason"},
    "mute": {"minutes", "reason"},
    "ban": {"minutes", "reason"},
    "unmute": {"reason"},
    "unban": {"reason"},
    "kick": {"reason"},
    "room_settings": {"locked", "slow_mode", "topic", "private"},
    "create_invitation": {"hours"},
}


def command_fields(
    targets: st.SearchStrategy, pools: Pools, avoid: frozenset[str]
) -> dict[str, dict[str, st.SearchStrategy]]:
    """Per command type, its fields and the strategy of each field's value. User names are
    `targets` or any text but the names in `avoid`."""
    text = st.sampled_from(pools.texts)
    wrong = st.sampled_from(pools.wrong)
    client_ids = st.one_of(
        st.sampled_from([f"fz-{i}" for i in range(30)]),  # repeated: resends of stored ones
        text,
        st.integers(0, 10**9).map(lambda n: f"fz-fresh-{n}"),
        st.sampled_from(["", "x" * 64, "x" * 65, "\x00", "a\ud800", "\u202eid", "\u200b"]),
    )
    edge = st.sampled_from(EDGE_INTS)
    seqs = st.integers(1, 400) | edge
    minutes = st.integers(1, 600) | edge
    reasons = st.just("spam") | text
    users = st.one_of(targets, targets, st.sampled_from([t for t in pools.texts if t not in avoid]))
    table = {
        "message": {"body": text, "client_id": client_ids},
        "history": {
            "before": st.integers(0, 500) | edge,
            "after": st.integers(0, 500) | edge,
            "limit": st.integers(1, 100) | edge,
        },
        "ping": {},
        "delete": {"seq": seqs, "reason": reasons},
        "report": {"seq": seqs, "reason": reasons},
        "mute": {"user": users, "minutes": minutes, "reason": reasons},
        "ban": {"user": users, "minutes": minutes, "reason": reasons},
        "unmute": {"user": users, "reason": reasons},
        "unban": {"user": users, "reason": reasons},
        "kick": {"user": users, "reason": reasons},
        "room_settings": {
            "locked": st.booleans(),
            "slow_mode": st.sampled_from([0, 1, 2, 5, 3600, 3601, -1]),
            "topic": text,
            "private": st.booleans(),
        },
        "create_invitation": {"hours": st.sampled_from([1, 168, 720, 721, 0, -1])},
        "revoke_invitation": {"id": seqs},
        # Version 2: plausible fields.
        "typing": {},
        "read": {"seq": seqs},
        "edit": {"seq": seqs, "body": text},
        "react": {"seq": seqs, "emoji": st.sampled_from(["\U0001f44d", ":+1:", ""])},
        "open_dm": {"user": users},
        "invite": {"user": users},
        "remove": {"user": users},
        "leave": {},
    }
    # Per field: (right, or left out when optional; anything).
    return {
        kind: {
            name: (
                right | st.just(MISSING) if name in OPTIONAL.get(kind, ()) else right,
                field(right, wrong),
            )
            for name, right in fields.items()
        }
        for kind, fields in table.items()
    }


def type_values(kind: str, wrong: st.SearchStrategy) -> st.SearchStrategy:
    """A wrong "type" for a `kind` command: near misses, odd values, none, any JSON value."""
    near = [kind.upper(), f" {kind}", f"{kind}\x00", kind + "\u200b", kind[:-1]]
    odd = [{}, [], None, 0, 1, True, 1.5, Raw("1e999"), [kind], {"type": kind}]
    return st.one_of(st.sampled_from(near), st.sampled_from(odd), st.just(MISSING), wrong)


def commands(targets: st.SearchStrategy, pools: Pools, avoid: frozenset[str]) -> st.SearchStrategy:
    """JSON object frames, one command type each, every field right, wrong, null or missing."""
    fields = command_fields(targets, pools, avoid)
    wrong = st.sampled_from(pools.wrong)
    types = {kind: type_values(kind, wrong) for kind in fields}
    extra_key = st.sampled_from(["client_id", "type", "x", "", "body", "\x00", "\ud800"])
    repeated_type = st.sampled_from(V1_COMMANDS + V2_COMMANDS) | wrong

    @st.composite
    def draw_command(draw) -> Frame:
        kind = draw(st.sampled_from(V1_COMMANDS + V1_COMMANDS + V2_COMMANDS))
        flags = draw(st.integers(0, 255))  # one choice for the frame's coin flips
        # One command in four is well-formed: its type right, each field right or left out
        # when optional; so commands reach the services, not only the parser. One in four
        # (of the others) has a wrong type. (Bits 6-7 are 2 for 128..191: Hypothesis
        # favours the bounds, 0 and 255.)
        pristine = flags & 32 and flags & 4
        wrong_type = not pristine and flags >> 6 == 2
        pairs: list[tuple[str, object]] = []
        type_value = draw(types[kind]) if wrong_type else kind
        if type_value is not MISSING:
            pairs.append(("type", type_value))
        for name, (right, anything) in fields[kind].items():
            value = draw(right if pristine else anything)
            if value is not MISSING:
                pairs.append((name, value))
        if flags & 1:  # a field the command does not have
            pairs.append((draw(extra_key), draw(wrong)))
        if flags & 7 == 7 and not pristine:  # a repeated "type": the last one counts
            pairs.append(("type", draw(repeated_type)))
        if kind == "room_settings":  # the fuzzer's own room stays public (see test_fuzz.py)
            pairs = [(k, False if (k, v) == ("private", True) else v) for k, v in pairs]
        if flags & 8:
            pairs.append(pairs.pop(0)) if pairs else None
        return Frame(to_text(Obj(tuple(pairs)), bool(flags & 16)), kind)

    return draw_command()


def padded(kind: str, size: int) -> str:
    """A frame of about `size` bytes: a command padded with an extra field, a long body or
    plain text."""
    if kind == "ping":
        return json.dumps({"type": "ping", "pad": "x" * size})
    if kind == "message":
        return json.dumps({"type": "message", "body": "y" * size, "client_id": "fz-big"})
    if kind == "multibyte":  # fewer characters than bytes: the limit counts bytes
        return json.dumps({"type": "message", "body": "\u00e9" * (size // 2)}, ensure_ascii=False)
    return "z" * size


BROKEN_JSON = (
    "",
    " ",
    "{",
    "}",
    "[",
    '{"type": "ping"',
    '{"type":',
    '{"type": "ping"}garbage',
    '{"type": "ping"}{"type": "ping"}',
    "{'type': 'ping'}",
    '{"type": "ping",}',
    '{type: "ping"}',
    '\ufeff{"type": "ping"}',
    '{"type": "\\ud800"}',
    '{"type": "message", "body": "\\ud800"}',
    '{"type": "message", "body": "\\u0000x"}',
    '{"type": "message", "body": "x\\udfff", "client_id": "\\ud800"}',
    '{"type": "ping"' + "}" * 3,
)


# What a frame is, by weight. Commands also take both ends, which Hypothesis favours.
KINDS = (
    ("command", 200),
    ("text", 45),
    ("json", 30),
    ("broken", 30),
    ("binary", 30),
    ("deep", 10),
    ("too_long", 10),
    ("huge", 1),
    ("command", 644),
)
KIND_TABLE = tuple(kind for kind, weight in KINDS for _ in range(weight))


def frames(
    targets: Sequence[str], *, avoid: Sequence[str] = (), seed: int | None = None
) -> st.SearchStrategy:
    """Client frames of every kind; commands most of the time. Moderation commands name
    `targets` or any other text, never a name in `avoid`."""
    pools = make_pools(seed)
    return _frames(commands(st.sampled_from(list(targets)), pools, frozenset(avoid)), pools)


@st.composite
def _frames(draw, commands: st.SearchStrategy, pools: Pools) -> Frame:
    kind = draw(st.sampled_from(KIND_TABLE))
    if kind == "command":
        return draw(commands)
    if kind == "text":  # plain text: a chat message
        text = draw(st.sampled_from(pools.texts))
        return Frame(text if _sendable(text) else text.encode("utf-8", "replace").decode(), kind)
    if kind == "json":  # JSON that is not an object: a chat message of its raw text
        return Frame(to_text(draw(st.sampled_from(pools.non_objects)), draw(st.booleans())), kind)
    if kind == "broken":
        return Frame(draw(st.sampled_from(BROKEN_JSON)), kind)
    if kind == "deep":  # deeper than the parser's recursion limit: a message of the raw text
        depth = draw(st.sampled_from([10, 999, 1001, 1500, 5000]))
        return Frame("[" * depth + "]" * depth, kind)
    if kind == "binary":
        return Frame(draw(st.binary(max_size=40) | st.just(b'{"type": "ping"}')), kind)
    if kind == "too_long":  # just over 64 KiB: `too_long`, the connection stays
        shape = draw(st.sampled_from(["ping", "message", "multibyte", "text"]))
        extra = draw(st.sampled_from([1, 10, 1000, 100 * KIB]))
        return Frame(padded(shape, FRAME_LIMIT + extra), kind)
    # Over 1 MiB: the connection ends (tests/test_fuzz.py sends these on a socket of its own).
    return Frame("w" * (DAPHNE_LIMIT + draw(st.sampled_from([1, 1000]))), kind)


def draw_many(strategy: st.SearchStrategy, n: int, *, seed: int | None = None) -> list:
    """`n` values of `strategy`: the same ones on every run, or with `seed` those of that
    seed.

    Hypothesis draws values only inside a test it runs, and one test case holds a bounded
    number of choices (a few thousand), so 10,000 frames cannot come from one example. Here
    an inner @given test takes a batch of values per example, with only the generate phase
    (no shrinking: the fuzz test pins a failing frame down itself, by its answer), no
    example database, and derandomize=True (a fixed seed) unless `seed` is given. The fuzz
    test draws every frame before its sockets open, so the event loop never waits for
    Hypothesis and drawing costs no time on the wire.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    batch = 25
    drawn: list = []

    @settings(
        max_examples=n // batch + 20,  # a few more than needed, in case some overrun
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(strategy, min_size=batch, max_size=batch))
    def collect(values: list) -> None:
        drawn.extend(values)

    if seed is not None:
        collect = with_seed(seed)(collect)
    collect()
    if len(drawn) < n:
        raise RuntimeError(f"Hypothesis drew {len(drawn)} values, not {n}")
    return drawn[:n]


def _sendable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ChurnPlan:
    """A socket that opens and closes at once, in one of these ways:
    - "close": open, close at once without reading;
    - "abort": open, drop the TCP connection without a close frame;
    - "send_close": open, send `frames` without reading, close;
    - "send_abort": open, send `frames`, drop the TCP connection at once;
    - "handshake_cut": send the HTTP upgrade request, drop the connection before the answer;
    - "frame_cut": finish the handshake, send part of a frame, drop the connection;
    - "polite": open, read the welcome, send `frames` at once and a ping, read up to the
      pong, close."""

    mode: str
    frames: tuple[Frame, ...] = ()


CHURN_MODES = ("close", "abort", "send_close", "send_abort", "handshake_cut", "frame_cut", "polite")


def churn_plans(frames: st.SearchStrategy, n: int, *, seed: int | None = None) -> list[ChurnPlan]:
    """`n` churn plans, the modes in turn (Hypothesis would favour the first), each with up
    to four frames (none over 64 KiB)."""
    small = frames.filter(lambda f: f.label not in ("huge", "too_long"))
    batches = draw_many(st.lists(small, max_size=4).map(tuple), n, seed=seed)
    return [ChurnPlan(CHURN_MODES[i % len(CHURN_MODES)], b) for i, b in enumerate(batches)]
