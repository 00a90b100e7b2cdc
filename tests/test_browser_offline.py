"""Issue 3 in a real browser: messages typed while offline wait in the outbox (surviving a
reload), are delivered exactly once when the network returns, and everyone sees them once,
in order. Headless Chromium against a real daphne process.

What Chromium does when Playwright takes a context offline (checked, Chromium 14x): the page
gets the `offline` event, new WebSockets fail at once, but an already open WebSocket stays
OPEN and silently carries nothing (a ping gets no pong). chat.js drops the socket on the
`offline` event (and the heartbeat would catch it within ~20 s if the event never came).
"""

from __future__ import annotations

import math
import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.browser import (
    expect_message,
    expect_state,
    open_room,
    pending,
    send,
    shown,
    signup,
    wait_until,
)
from tests.support.processes import LiveServer, manage

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# The room's socket (/ws/chat/<room>/), not the sidebar's home socket (/ws/chat/).
WS_URL = re.compile(r"/ws/chat/[^/?]+/")


def stored(env: dict[str, str], room: str) -> list[tuple[int, str, str | None]]:
    """(seq, body, client_id) of the room's messages, straight from the server's database
    (the SQLite file of the embedded default, or PostgreSQL on the production stack)."""
    query = (
        "SELECT m.seq, m.body, m.client_id FROM chat_message m "
        "JOIN chat_room r ON r.id = m.room_id WHERE r.slug = {} ORDER BY m.seq"
    )
    url = env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return db.execute(query.format("?"), (room,)).fetchall()
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(query.format("%s"), (room,)).fetchall()


def test_offline_outbox_survives_reload_and_delivers_once(live_env, live_server_factory, new_page):
    server = live_server_factory()
    alice, bob = new_page(), new_page()
    for page, name in ((alice, "alice"), (bob, "bob")):
        signup(page, server.url, name)
        open_room(page, server.url, "lobby")
    send(alice, "before the outage")
    expect_message(bob, "before the outage")

    # The network goes away: the page says so, and what alice types waits, marked pending.
    alice.context.set_offline(True)
    expect_state(alice, "offline")
    send(alice, "offline 1")
    send(alice, "offline 2")
    expect(alice.locator("#outbox li.pending")).to_have_count(2)
    expect(alice.locator("#outbox li .status").first).to_have_text("sending…")

    # A reload while the chat server is still out of reach (the page itself loads, the
    # WebSocket does not get through): the pending messages are still there.
    blocked = True

    def gate(ws) -> None:
        if blocked:
            ws.close()
        else:
            ws.connect_to_server()

    alice.route_web_socket(WS_URL, gate)
    alice.context.set_offline(False)
    alice.reload()
    expect(alice.locator("#outbox li.pending")).to_have_count(2)
    assert pending(alice) == [("pending", "offline 1"), ("pending", "offline 2")]
    expect(alice.locator("#conn-state")).to_have_attribute(
        "data-state", re.compile("reconnecting|connecting")
    )
    alice.context.set_offline(True)
    expect_state(alice, "offline")
    send(alice, "offline 3")
    expect(alice.locator("#outbox li.pending")).to_have_count(3)
    assert [seq for seq, _, _ in stored(live_env, "lobby")] == [1]  # nothing got through
    assert [body for _, _, body in shown(bob)] == ["before the outage"]

    # Back online: the page reconnects at once and the outbox drains, each message once.
    blocked = False
    alice.context.set_offline(False)
    expect_state(alice, "connected")
    expect(alice.locator("#outbox li")).to_have_count(0)
    expected = [
        (1, "alice", "before the outage"),
        (2, "alice", "offline 1"),
        (3, "alice", "offline 2"),
        (4, "alice", "offline 3"),
    ]
    expect(bob.locator("#messages li.msg")).to_have_count(4)
    assert shown(bob) == expected
    expect(alice.locator("#messages li.msg")).to_have_count(4)
    assert shown(alice) == expected

    rows = stored(live_env, "lobby")
    assert [(seq, body) for seq, body, _ in rows] == [(s, b) for s, _, b in expected]
    client_ids = [cid for _, _, cid in rows]
    assert all(client_ids) and len(set(client_ids)) == 4

    # And a last reload shows the same, with nothing left pending.
    alice.reload()
    expect_state(alice, "connected")
    assert shown(alice) == expected
    assert pending(alice) == []


def test_lost_echo_is_not_stored_twice(live_env, live_server_factory, new_page):
    """The server stores a message but the connection dies before its echo arrives: the
    message stays pending, and after the reconnect it is settled by the resume (or the
    idempotent resend), never stored or shown twice."""
    server = live_server_factory()
    alice, bob = new_page(), new_page()
    signup(bob, server.url, "bob")
    open_room(bob, server.url, "lobby")
    signup(alice, server.url, "alice")

    sockets = []

    def relay(ws) -> None:
        """Pass frames through, except server frames after a post: those are lost."""
        upstream = ws.connect_to_server()
        state = {"posted": False}

        def to_server(text) -> None:
            if '"type":"message"' in str(text).replace(" ", ""):
                state["posted"] = True
            upstream.send(text)

        def to_page(text) -> None:
            if not state["posted"]:
                ws.send(text)

        ws.on_message(to_server)
        upstream.on_message(to_page)
        sockets.append(ws)

    alice.route_web_socket(WS_URL, relay)
    open_room(alice, server.url, "lobby")
    send(alice, "did you get this?")
    expect_message(bob, "did you get this?")  # stored and broadcast...
    expect(alice.locator("#outbox li.pending")).to_have_count(1)  # ...but alice never heard
    assert alice.locator("#messages li.msg").count() == 0

    sockets[-1].close()  # the connection drops; the next one is a clean relay
    expect(alice.locator("#outbox li")).to_have_count(0)
    expect_message(alice, "did you get this?", user="alice")
    assert [body for _, body, _ in stored(live_env, "lobby")] == ["did you get this?"]
    assert shown(bob) == [(1, "alice", "did you get this?")]


def post_out_of_band(env: dict[str, str], room: str, user: str, *bodies: str) -> None:
    """Store messages from another process. On the embedded default (in-memory channel
    layer) nothing reaches the server's process, so a page learns of them only from the
    database: by the resume, or when the server fills the gap before a later live message."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from chat import selectors, services\n"
        f"u = get_user_model().objects.get(username={user!r})\n"
        f"r = selectors.get_room({room!r})\n"
        f"for body in {list(bodies)!r}: services.post_message(room=r, user=u, body=body)\n"
    )
    manage(env, "shell", "-c", code)


def test_server_crash_resume_and_gap_fill(live_env, live_server_factory, new_page, tmp_path):
    server = live_server_factory()
    alice, bob = new_page(), new_page()
    for page, name in ((alice, "alice"), (bob, "bob")):
        signup(page, server.url, name)
        open_room(page, server.url, "lobby")
    send(bob, "m1")
    expect_message(alice, "m1")

    # The server dies: the page counts down to its next attempt.
    server.kill()
    countdown = re.compile(r"^reconnecting in \d+s$")
    expect(alice.locator("#conn-state")).to_have_text(countdown)
    post_out_of_band(live_env, "lobby", "bob", "m2", "m3")  # stored while alice is away

    restarted = LiveServer(live_env, tmp_path / "daphne-restarted.log", port=server.port)
    try:
        restarted.start()
        # Back: resume with ?since= brings m2, m3.
        for page in (alice, bob):
            expect(page.locator("#conn-state")).to_have_attribute(
                "data-state", "connected", timeout=60_000
            )
            expect_message(page, "m3")
        # Two more stored where no broadcast reaches the server, then a live one: seq 6
        # arrives after seq 3, and the pages still show every message once, in order.
        post_out_of_band(live_env, "lobby", "bob", "m4", "m5")
        send(alice, "m6")
        expected = [(n, "alice" if n == 6 else "bob", f"m{n}") for n in range(1, 7)]
        for page in (alice, bob):
            expect(page.locator("#messages li.msg")).to_have_count(6)
            assert shown(page) == expected
    finally:
        restarted.stop()


def test_lost_frame_is_fetched_as_a_gap(live_server_factory, new_page):
    """A message frame that never reaches the page (here dropped by a relay): the next seq
    shows a gap, the page asks for it with `history` `after` and renders in seq order."""
    server = live_server_factory()
    alice, bob = new_page(), new_page()
    signup(bob, server.url, "bob")
    open_room(bob, server.url, "lobby")
    signup(alice, server.url, "alice")
    dropped = []

    def relay(ws) -> None:
        upstream = ws.connect_to_server()

        def to_page(text) -> None:
            if '"seq":2,' in str(text) and str(text).startswith('{"type":"message"'):
                dropped.append(text)
                return
            ws.send(text)

        upstream.on_message(to_page)
        ws.on_message(upstream.send)

    alice.route_web_socket(WS_URL, relay)
    open_room(alice, server.url, "lobby")
    for body in ("m1", "m2", "m3"):
        send(bob, body)
    expect(bob.locator("#messages li.msg")).to_have_count(3)
    expect(alice.locator("#messages li.msg")).to_have_count(3)
    assert dropped, "the relay should have dropped the frame of seq 2"
    assert shown(alice) == [(1, "bob", "m1"), (2, "bob", "m2"), (3, "bob", "m3")]


def test_refused_messages_fail_or_wait_and_removal_stops_reconnects(
    live_env, live_server_factory, new_page
):
    """A refused message is shown failed with the reason and never resent; a rate-limited
    one is retried after retry_after; a user removed from the room is told so and the page
    stops reconnecting."""
    server = live_server_factory()
    owner, guest = new_page(), new_page()
    signup(owner, server.url, "owner")
    open_room(owner, server.url, "den")  # the first visitor owns the room
    signup(guest, server.url, "guest")
    open_room(guest, server.url, "den")

    # Slow mode: the second message comes back rate_limited, waits, and then goes through.
    owner.evaluate("window.chat.send({type: 'room_settings', slow_mode: 2})")
    expect(guest.locator("#room-note")).to_contain_text("slow mode")
    send(guest, "quick one")
    send(guest, "quick two")
    expect_message(owner, "quick one")
    expect_message(owner, "quick two")
    expect(guest.locator("#outbox li")).to_have_count(0)
    assert [body for _, body, _ in stored(live_env, "den")] == ["quick one", "quick two"]

    # Locked: the post is refused for good, shown with the reason, kept over a reload and
    # not resent. A locked room disables the composer (saying why), so the refused post is
    # one still in the outbox from before the lock (sessionStorage, as a page that was
    # sending it at that moment keeps it): the page sends it when it connects.
    owner.evaluate("window.chat.send({type: 'room_settings', locked: true, slow_mode: 0})")
    expect(guest.locator("#room-note")).to_contain_text("locked")
    expect(guest.locator("#composer-input")).to_be_disabled()
    expect(guest.locator("#composer-note")).to_contain_text("locked")
    guest.evaluate(
        """sessionStorage.setItem('chat.outbox.den', JSON.stringify(
            [{client_id: 'typed-before-the-lock', body: 'let me in', status: 'pending'}]))"""
    )
    guest.reload()
    failed = guest.locator("#outbox li.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".status")).to_contain_text("locked")
    guest.reload()
    expect_state(guest, "connected")
    expect(guest.locator("#outbox li.failed")).to_have_count(1)
    assert [body for _, body, _ in stored(live_env, "den")] == ["quick one", "quick two"]
    guest.click("#outbox li.failed button.discard")
    expect(guest.locator("#outbox li")).to_have_count(0)

    # Removed: the socket closes with 4403; the page says so and stops (no countdown).
    owner.evaluate("window.chat.send({type: 'ban', user: 'guest', reason: 'test'})")
    expect(guest.locator("#banner")).to_contain_text("removed from this room")
    expect_state(guest, "closed")
    expect(guest.locator("#composer-input")).to_be_disabled()
    expect(guest.locator("#conn-state")).to_have_text("disconnected")


def test_half_open_connection_is_caught_by_the_heartbeat(live_server_factory, new_page):
    """The socket stays open but nothing gets through either way (a dead NAT entry, a
    sleeping laptop): no pong within 5 s of a ping means reconnect. Timers run on
    Playwright's fake clock, so the 15 s ping interval costs no real time."""
    server = live_server_factory()
    page = new_page()
    signup(page, server.url, "alice")
    state = {"dead": False}

    def relay(ws) -> None:
        upstream = ws.connect_to_server()
        upstream.on_message(lambda text: None if state["dead"] else ws.send(text))
        ws.on_message(lambda text: None if state["dead"] else upstream.send(text))

    page.route_web_socket(WS_URL, relay)
    page.clock.install()
    open_room(page, server.url, "lobby")

    state["dead"] = True  # the connection silently stops carrying anything
    page.clock.fast_forward(15_500)  # the heartbeat pings...
    expect_state(page, "connected")  # ...and waits for the pong
    page.clock.fast_forward(5_000)  # no pong within 5 s: reconnect
    expect(page.locator("#conn-state")).to_have_text(re.compile(r"^reconnecting"))
    state["dead"] = False
    page.clock.fast_forward(1_000)  # the first retry comes within 0.5 s
    expect_state(page, "connected")
    send(page, "still here")
    expect_message(page, "still here")


ATTEMPT_COUNTER = """
window.__attempts = 0;
document.addEventListener("DOMContentLoaded", () => {
  const state = document.getElementById("conn-state");
  new MutationObserver(() => {
    if (state.dataset.state === "connecting") window.__attempts += 1;
  }).observe(state, {attributes: true, attributeFilter: ["data-state"]});
});
"""


def test_reconnect_backoff_grows_with_jitter_to_30s_and_resets(live_server_factory, new_page):
    """Each failed attempt waits about twice as long (0.5 s doubling, jittered, at most
    30 s); a healthy connection resets it. The countdown on the page shows the wait."""
    server = live_server_factory()
    page = new_page()
    signup(page, server.url, "alice")
    routes = []
    state = {"refuse": False}

    def gate(ws) -> None:
        routes.append(ws)
        if state["refuse"]:
            ws.close()
        else:
            ws.connect_to_server()

    page.route_web_socket(WS_URL, gate)
    page.add_init_script(ATTEMPT_COUNTER)
    page.clock.install()
    open_room(page, server.url, "lobby")
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds

    def countdowns(count: int) -> list[int]:
        """Let `count` attempts fail; the seconds shown after each."""
        seen = []
        for _ in range(count):
            attempts = page.evaluate("window.__attempts")
            wait_until(
                page, "() => document.getElementById('conn-state').dataset.state === 'reconnecting'"
            )
            text = page.locator("#conn-state").text_content()
            seen.append(int(re.fullmatch(r"reconnecting in (\d+)s", text).group(1)))
            page.clock.fast_forward(30_500)  # past any wait: the next attempt starts
            wait_until(page, f"window.__attempts > {attempts}")
        return seen

    state["refuse"] = True
    routes[-1].close()  # the connection drops; every attempt from now on is refused
    seen = countdowns(9)
    # Attempt n waits between half and all of min(30, 0.5 * 2**n) seconds (shown rounded up).
    for n, seconds in enumerate(seen):
        base = min(30.0, 0.5 * 2**n)
        assert math.ceil(base / 2) <= seconds <= math.ceil(base), (n, seen)
    assert max(seen) <= 30 and seen[-1] >= 15

    state["refuse"] = False
    page.clock.fast_forward(30_500)
    expect_state(page, "connected")
    page.clock.fast_forward(10_500)  # connected for 10 s: healthy, the backoff resets
    state["refuse"] = True
    routes[-1].close()
    assert countdowns(1) == [1]


def test_dropped_echo_on_a_live_connection_is_settled_by_a_resend(
    live_env, live_server_factory, new_page
):
    """The echo of a post never arrives but the connection lives on: after a few seconds
    the page sends it again with the same client_id; the server stores nothing new and
    answers with the stored message, which settles the outbox."""
    server = live_server_factory()
    page = new_page()
    signup(page, server.url, "alice")
    dropped = []
    frames = []  # what passed the relay, for the failure's message

    def relay(ws) -> None:
        upstream = ws.connect_to_server()

        def to_page(text) -> None:
            frames.append(f"< {text}")
            if not dropped and str(text).startswith('{"type":"message"'):
                dropped.append(text)  # the first echo only
                return
            ws.send(text)

        def to_server(text) -> None:
            frames.append(f"> {text}")
            upstream.send(text)

        upstream.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(WS_URL, relay)
    page.clock.install()
    open_room(page, server.url, "lobby")
    # Timers run only when the test says: so this is the resend after 5 s, not the
    # heartbeat's gap check (15 s) or a reconnect.
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds
    send(page, "echo me")
    expect(page.locator("#outbox li.pending")).to_have_count(1)
    page.clock.fast_forward(5_200)
    expect(page.locator("#outbox li")).to_have_count(0)
    try:
        expect_message(page, "echo me", user="alice")
    except AssertionError:
        print("\n".join(frames[:200]))
        raise
    assert dropped
    assert [body for _, body, _ in stored(live_env, "lobby")] == ["echo me"]
    expect_state(page, "connected")


def test_hanging_handshake_is_given_up_and_retried(live_server_factory, new_page):
    """A connection that opens but never says welcome (a proxy or server stuck) is dropped
    after 10 s and retried, on the fake clock."""
    server = live_server_factory()
    page = new_page()
    signup(page, server.url, "alice")
    routes = []

    def gate(ws) -> None:
        routes.append(ws)
        if len(routes) > 1:
            ws.connect_to_server()
        # else: the first socket is left hanging: open, but nothing ever arrives

    page.route_web_socket(WS_URL, gate)
    page.clock.install()
    page.goto(f"{server.url}/chat/lobby/")
    wait_until(page, "() => window.chat !== undefined")
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # seconds
    expect_state(page, "connecting")
    page.clock.fast_forward(10_500)
    expect(page.locator("#conn-state")).to_have_text(re.compile(r"^reconnecting in"))
    page.clock.fast_forward(1_000)
    expect_state(page, "connected")
    assert len(routes) == 2
