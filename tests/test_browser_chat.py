"""Issue 2 in a real browser: headless Chromium against a real daphne process."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import (
    expect_message,
    expect_state,
    login,
    logout,
    open_room,
    send,
    shown,
    signup,
    wait_until,
)
from tests.support.accounts import PASSWORD
from tests.support.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_two_users_sign_up_chat_both_ways_and_reload(live_server_factory, new_page):
    server = live_server_factory()
    alice, bob = new_page(), new_page()
    for page, name in ((alice, "alice"), (bob, "bob")):
        signup(page, server.url, name)
        logout(page)
        login(page, server.url, name)
        open_room(page, server.url, "lobby")

    send(alice, "Hi Bob!")
    expect_message(bob, "Hi Bob!", user="alice")
    send(bob, "Hello Alice")
    expect_message(alice, "Hello Alice", user="bob")
    # Shift+Enter makes a new line; Enter sends.
    alice.fill("#composer-input", "two")
    alice.press("#composer-input", "End")
    alice.keyboard.press("Shift+Enter")
    alice.keyboard.type("lines")
    expect(alice.locator("#composer-input")).to_have_value("two\nlines")
    alice.keyboard.press("Enter")
    expect_message(bob, "two\nlines", user="alice")
    expect(alice.locator("#outbox li")).to_have_count(0)

    expected = [(1, "alice", "Hi Bob!"), (2, "bob", "Hello Alice"), (3, "alice", "two\nlines")]
    for page in (alice, bob):
        expect(page.locator("#messages li.msg")).to_have_count(3)
        assert shown(page) == expected
        page.reload()
        expect_state(page, "connected")
        assert shown(page) == expected
        expect(page.locator("#messages li.msg .msg-user").first).to_have_text("alice")

    # The room list shows the room with its message count.
    bob.goto(server.url + "/")
    count = bob.locator('.room-cards li[data-room="lobby"] .count')
    expect(count).to_have_attribute("data-count", "3")


def test_older_pages_load_when_scrolling_up(live_env, live_server_factory, new_page):
    manage(
        live_env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        f"u = get_user_model().objects.create_user('carol', password={PASSWORD!r})\n"
        "r = services.create_room(slug='history', user=u)\n"
        "for n in range(1, 121): services.post_message(room=r, user=u, body=f'old {n}')\n",
    )
    server = live_server_factory()
    page = new_page()
    login(page, server.url, "carol")
    open_room(page, server.url, "history")
    items = page.locator("#messages li.msg")
    expect(items).to_have_count(50)
    expect(items.last).to_have_attribute("data-seq", "120")
    for count in (100, 120):
        page.eval_on_selector("#scroller", "s => { s.scrollTop = 0; }")
        expect(items).to_have_count(count)
    expect(page.locator("#older-start")).to_be_visible()
    assert [seq for seq, _, _ in shown(page)] == list(range(1, 121))


def test_room_page_at_phone_width(live_server_factory, new_page):
    server = live_server_factory()
    page = new_page(viewport={"width": 375, "height": 700}, is_mobile=True, has_touch=True)
    signup(page, server.url, "dana")
    open_room(page, server.url, "lobby")
    send(page, "from my phone " + "wide " * 40)
    expect_message(page, ("from my phone " + "wide " * 40).strip())
    # Nothing wider than the screen: no sideways scrolling, the composer is on screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#send").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 700


XSS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "<svg onload=\"window.__xss = 'svg'\"></svg>",
    "javascript:alert(1)",
    "</script><script>window.__xss = 'breakout'</script>",
    "<a href=\"javascript:window.__xss='link'\">click me</a>",
]


def test_xss_bodies_show_as_text_and_run_nothing(live_server_factory, new_page):
    server = live_server_factory()
    mallory, victim = new_page(), new_page()
    dialogs: list[str] = []
    for page, name in ((mallory, "mallory"), (victim, "victim")):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        signup(page, server.url, name)
        open_room(page, server.url, "lobby")

    for body in XSS:
        send(mallory, body)
    expected = [(n, "mallory", body) for n, body in enumerate(XSS, start=1)]

    def check(page) -> None:
        expect(page.locator("#messages li.msg")).to_have_count(len(XSS))
        assert shown(page) == expected  # the literal text, character for character
        assert page.locator("#messages img, #messages svg, #messages script").count() == 0
        assert page.locator("#messages a").count() == 0
        assert page.evaluate("window.__xss") is None

    check(victim)  # live, through chat.js
    victim.locator("#messages li.msg").last.locator(".msg-body").click()
    check(mallory)
    for page in (victim, mallory):
        page.reload()  # server-rendered HTML and json_script data
        expect_state(page, "connected")
        check(page)
    assert dialogs == []


HOOK_SPY = """
window.__rendered = [];
window.__frames = [];
document.addEventListener("chat:rendered", (e) => window.__rendered.push(
  [e.detail.message.seq, e.detail.element.dataset.seq, e.detail.element.dataset.user,
   Boolean(e.detail.element.querySelector(".msg-actions"))]));
document.addEventListener("chat:frame", (e) => window.__frames.push(e.detail.type));
"""


def test_extension_hooks_and_moderation_frames(live_server_factory, new_page):
    """What moderation.js builds on: chat:rendered for every message (the first page too),
    chat:frame for every frame, window.chat.send; and deletions and room updates from the
    server show at once in every open page."""
    server = live_server_factory()
    owner, guest = new_page(), new_page()
    signup(owner, server.url, "owner")
    # The first visitor creates and owns the room (lobby, made by migrate, has no owner).
    open_room(owner, server.url, "den")
    send(owner, "first")
    expect_message(owner, "first")
    signup(guest, server.url, "guest")
    # Stand in for moderation.js (loaded after chat.js, as in the template) with a spy.
    guest.route(
        re.compile(r"/static/chat/moderation\.js$"),
        lambda route: route.fulfill(body=HOOK_SPY, content_type="text/javascript"),
    )
    open_room(guest, server.url, "den")
    send(guest, "something rude")
    expect_message(owner, "something rude")

    assert guest.evaluate("window.__rendered") == [
        [1, "1", "owner", True],
        [2, "2", "guest", True],
    ]
    assert guest.evaluate("window.__frames")[:2] == ["welcome", "message"]
    assert guest.evaluate("[window.chat.username, window.chat.room]") == ["guest", "den"]
    assert guest.evaluate("window.chat.send({type: 'ping'})") is True
    wait_until(guest, "window.__frames.includes('pong')")

    owner.evaluate("window.chat.send({type: 'delete', seq: 2, reason: 'rude'})")
    for page in (owner, guest):
        item = page.locator('#messages li.msg[data-seq="2"]')
        expect(item).to_have_class(re.compile(r"\bdeleted\b"))
        expect(item.locator(".msg-body")).to_have_text("This message was deleted.")
    wait_until(guest, "window.__frames.includes('message_deleted')")

    owner.evaluate("window.chat.send({type: 'room_settings', locked: true})")
    for page in (owner, guest):
        expect(page.locator("#room-note")).to_contain_text("locked")
    guest.reload()  # deleted stays deleted
    expect_state(guest, "connected")
    expect(guest.locator('#messages li.msg[data-seq="2"] .msg-body')).to_have_text(
        "This message was deleted."
    )


def test_logout_in_one_tab_disconnects_the_other(live_server_factory, new_page):
    server = live_server_factory()
    chat_tab = new_page()
    signup(chat_tab, server.url, "alice")
    open_room(chat_tab, server.url, "lobby")
    other_tab = chat_tab.context.new_page()  # same browser, same session
    other_tab.goto(server.url + "/")
    logout(other_tab)
    expect(chat_tab.locator("#banner")).to_contain_text("logged out")
    expect_state(chat_tab, "closed")
    chat_tab.reload()  # and the room page now asks for a login
    expect(chat_tab).to_have_url(re.compile(r"/accounts/login/\?next=/chat/lobby/"))
