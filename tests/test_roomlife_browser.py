"""Room life on the page, in headless Chromium against a real daphne (docs/protocol.md,
"Version 2 additions"): who is online (the header's count and the member panel, a drawer
on a phone), "bob is typing…", the topic set by the owner, unread badges in the sidebar
and on the room list (live in every tab), the "new messages" divider of a room opened
with unread messages, the title's count, a room made by someone else appearing live, and
the composer of a muted user."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import HIDE, PASSWORD, SHOW, expect_message, login, open_room, send
from tests.support.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEED = (
    "from django.contrib.auth import get_user_model\n"
    "from django.contrib.auth.hashers import make_password\n"
    "from chat import services\n"
    "User = get_user_model()\n"
    f"hashed = make_password({PASSWORD!r})\n"  # one hash (~0.3 s of CPU) for every user
    "alice = User.objects.create(username='alice', password=hashed)\n"
    "bob = User.objects.create(username='bob', password=hashed)\n"
    "carol = User.objects.create(username='carol', password=hashed)\n"
    "den = services.create_room(slug='den', user=alice, title='Design Review')\n"
    "random = services.create_room(slug='random', user=bob, title='Random')\n"
    "lines = [(alice, 'Morning!'), (alice, 'The agenda is up.'), (bob, 'Looks good.'),\n"
    "         (bob, 'One question on item 2.'), (alice, 'Shipping it today.')]\n"
    "for who, body in lines: services.post_message(room=den, user=who, body=body)\n"
    "for body in ('anyone for lunch?', 'noon, usual place'):\n"
    "    services.post_message(room=random, user=bob, body=body)\n"
    # carol read den up to seq 2 and then went away; bob muted her in random.
    "services.mark_read(room=den, user=carol, seq=2)\n"
    "services.mute_user(room=random, actor=bob, user=carol, minutes=600)\n"
)


@pytest.fixture
def site(live_env, live_server_factory):
    manage(live_env, "shell", "-c", SEED)
    return live_server_factory()


def members(page) -> list[str]:
    return page.eval_on_selector_all(
        "#member-list li", "items => items.map(li => li.textContent.trim())"
    )


def badges(page, where: str, slug: str):
    """The badges of room `slug` in the sidebar ("sidebar") or on the room list ("cards")."""
    scope = "#room-list" if where == "sidebar" else "#room-cards"
    return page.locator(f'{scope} li[data-room="{slug}"] .badge')


def test_presence_typing_topic_and_the_member_drawer(site, new_page):
    alice = new_page(viewport={"width": 1280, "height": 800})
    bob = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(bob, site.url, "bob")
    open_room(bob, site.url, "den")
    expect(bob.locator("#online-count")).to_have_text("1 online")
    login(alice, site.url, "alice")
    open_room(alice, site.url, "den")

    # Each sees the other arrive: the header's count, and the panel it opens.
    toggle = alice.locator("#members-toggle")
    expect(toggle).to_have_text("2 online")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "member-panel")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = alice.get_by_role("complementary", name="Online now")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("list").locator("li")).to_have_count(2)
    assert members(alice) == ["ALalice (you)", "BObob"]  # avatar initials, name, "(you)"
    assert alice.locator("#member-panel").bounding_box()["x"] > 1000  # a column, right
    expect(bob.locator("#online-count")).to_have_text("2 online")

    # On a phone the panel is a drawer over the room: no sideways scroll, Esc closes it.
    bob.locator("#members-toggle").click()
    expect(bob.locator("#member-panel")).to_be_visible()
    expect(bob.locator("#member-panel-close")).to_be_focused()
    assert members(bob) == ["ALalice", "BObob (you)"]
    assert bob.evaluate("document.documentElement.scrollWidth") <= 390
    bob.keyboard.press("Escape")
    expect(bob.locator("#member-panel")).to_be_hidden()
    expect(bob.locator("#members-toggle")).to_be_focused()

    # bob types: alice is told, and it ends when his message arrives.
    typing = alice.locator("#typing-line")
    expect(typing).to_have_attribute("aria-live", "polite")
    expect(typing).to_have_text("")
    bob.fill("#composer-input", "I have a ques")
    expect(typing).to_have_text("bob is typing…")
    expect(bob.locator("#typing-line")).to_have_text("")  # never about yourself
    bob.press("#composer-input", "End")
    bob.type("#composer-input", "tion")
    bob.press("#composer-input", "Enter")
    expect_message(alice, "I have a question", user="bob")
    expect(typing).to_have_text("")

    # The owner sets the topic in the page's dialog; bob sees it under the title, live.
    expect(bob.locator("#topic-edit")).to_be_hidden()  # only moderators may
    expect(alice.locator("#room-topic-line")).to_be_hidden()
    alice.click("#topic-edit")
    dialog = alice.locator("dialog#mod-dialog[open]")
    dialog.locator("input").fill("Weekly design review, Tuesdays")
    dialog.locator("[data-role=confirm]").click()
    expect(bob.locator("#room-topic")).to_have_text("Weekly design review, Tuesdays")
    expect(bob.locator("#room-topic-line")).to_be_visible()
    expect(alice.locator("#room-topic")).to_have_text("Weekly design review, Tuesdays")

    # bob leaves: gone from alice's panel and count.
    bob.goto(site.url + "/")
    expect(toggle).to_have_text("1 online")
    expect(alice.locator("#member-list li")).to_have_count(1)
    assert members(alice) == ["ALalice (you)"]


def test_unread_badges_divider_tabs_title_new_rooms_and_mute(site, new_page):
    """carol was away: her room list and sidebar show what is unread where; opening den in
    a second tab shows the divider above the first unread message and reads it, which
    clears den's badge in the first tab; a room bob makes appears there live; the title
    counts what is unread; and in random, where she is muted, the composer says so."""
    rooms = new_page(viewport={"width": 1280, "height": 800})
    login(rooms, site.url, "carol")
    # Rendered by the server (the socket then keeps them), on the right rooms only.
    expect(badges(rooms, "sidebar", "den")).to_have_text("3 3 unread")
    expect(badges(rooms, "sidebar", "random")).to_have_text("2 2 unread")
    expect(badges(rooms, "cards", "den")).to_have_text("3 3 unread")
    expect(badges(rooms, "cards", "random")).to_have_text("2 2 unread")
    den_link = rooms.locator('#room-list li[data-room="den"] a')
    expect(den_link).to_have_accessible_name("Design Review 3 unread")
    expect(rooms).to_have_title("(5) Rooms · Chat")
    expect(rooms.locator("#sidebar")).to_have_attribute("data-live", "true")

    # A second tab opens den: the divider is above the first unread message, in view.
    tab = rooms.context.new_page()
    open_room(tab, site.url, "den")
    divider = tab.locator("#messages li.msg.unread-first")
    expect(divider).to_have_attribute("data-seq", "3")
    expect(divider).to_have_attribute("data-unread-label", "New messages")
    expect(divider).to_be_in_viewport()
    expect(badges(tab, "sidebar", "den")).to_have_count(0)  # the room on screen
    expect(badges(tab, "sidebar", "random")).to_have_text("2 2 unread")
    expect(tab).to_have_title("(2) Design Review · Chat")  # the other rooms' unread
    # Reading it there clears den's badge in the first tab, sidebar and list alike.
    expect(badges(rooms, "sidebar", "den")).to_have_count(0)
    expect(badges(rooms, "cards", "den")).to_have_count(0)
    expect(rooms).to_have_title("(2) Rooms · Chat")

    # bob makes a room: it appears in carol's open list and sidebar, first (most recent).
    bob = new_page()
    login(bob, site.url, "bob")
    bob.fill("#id_title", "Planning")
    bob.click(".create-room button[type=submit]")
    expect(bob).to_have_url(re.compile(r"/chat/planning/$"))
    expect(rooms.locator('#room-list li[data-room="planning"]')).to_have_text("#Planning")
    expect(rooms.locator("#room-cards li.room-card").first).to_have_attribute(
        "data-room", "planning"
    )
    expect(rooms.locator("#room-cards li.room-card")).to_have_count(4)  # and lobby
    expect(rooms.locator('#room-cards li[data-room="planning"] .count')).to_have_text("0 messages")

    # With den's tab in the background, bob's new message there counts in its title too.
    tab.evaluate(HIDE)
    open_room(bob, site.url, "den")
    send(bob, "are you back?")
    expect_message(tab, "are you back?", user="bob")
    expect(tab).to_have_title("(3) Design Review · Chat")
    expect(badges(rooms, "sidebar", "den")).to_have_text("1 1 unread")
    tab.evaluate(SHOW)  # back to the tab: it is read
    expect(tab).to_have_title("(2) Design Review · Chat")
    expect(badges(rooms, "sidebar", "den")).to_have_count(0)
    expect(rooms).to_have_title("(2) Rooms · Chat")

    # Muted in random: the composer is off and says until when, before any post fails.
    open_room(tab, site.url, "random")
    expect(tab.locator("#composer-input")).to_be_disabled()
    expect(tab.locator("#send")).to_be_disabled()
    note = re.compile(r"^You are muted in this room until \d{1,2}:\d{2}\s?[AP]M\.$")
    expect(tab.locator("#composer-note")).to_have_text(note)
