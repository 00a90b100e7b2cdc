"""Rich messages on the page, in headless Chromium against a real daphne (docs/protocol.md
"Rich messages: edits, reactions, replies, formatting, mentions (version 2)"): alice's
Markdown shows formatted to bob (bold, a link that opens in a new tab); she edits it with
Up in the empty composer and bob sees the new text and "(edited)" live; bob reacts from
the picker and alice sees his chip (count, his name), which he toggles off again; bob
replies and the quote jumps to the original; bob's "@al" suggests alice, and alice sees
the mention highlighted as hers (and, her tab hidden, gets a browser notification). A
reply to a message far back (not loaded) loads a window around it and "Jump to latest"
goes back. Then axe-core on the new controls, light and dark."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import (
    HIDE,
    NOTIFICATIONS,
    PASSWORD,
    SHOW,
    expect_state,
    login,
    open_room,
    wait_until,
)
from tests.support.processes import manage
from tests.test_ui_browser import audit

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

FIRST = "The very first message of the den, long ago."
SEED = (
    "from django.contrib.auth import get_user_model\n"
    "from django.contrib.auth.hashers import make_password\n"
    "from chat import protocol, services\n"
    "User = get_user_model()\n"
    f"hashed = make_password({PASSWORD!r})\n"  # one hash (~0.3 s of CPU) for every user
    "alice, bob, carol = (User.objects.create(username=n, password=hashed)\n"
    "                     for n in ('alice', 'bob', 'carol'))\n"
    "den = services.create_room(slug='den', user=alice, title='Design Review')\n"
    f"services.post_message(room=den, user=alice, body={FIRST!r})\n"
    "for batch in (range(2, 51), range(51, 100)):\n"
    "    services.post_messages(room=den, user=alice, rate_limit=False,\n"
    "        posts=[protocol.Post(f'filler {n}') for n in batch])\n"
    # seq 100: bob answers seq 1, which no page loads at first (the latest 50: 51-100).
    "services.post_messages(room=den, user=bob, rate_limit=False,\n"
    "    posts=[protocol.Post('Answering the very first one', None, 1)])\n"
)


# Scroll the message list to its bottom (the page loads the next page down when there):
# true once the list follows the live end again ("Jump to latest" gone).
SCROLL_DOWN = """(() => {
  const s = document.getElementById('scroller');
  s.scrollTop = s.scrollHeight;
  return document.getElementById('jump-latest').hidden;
})()"""


@pytest.fixture
def site(live_env, live_server_factory):
    manage(live_env, "shell", "-c", SEED)
    return live_server_factory()


def message(page, text: str):
    """The stored message whose body contains `text` (exactly one)."""
    item = page.locator("#messages li.msg").filter(
        has=page.locator(".msg-body", has_text=re.compile(re.escape(text)))
    )
    expect(item).to_have_count(1)
    return item


def action(page, item, name: str):
    """A message's action button, shown as a mouse user sees it (hover)."""
    item.hover()
    button = item.locator(f'.msg-actions [data-action="{name}"]')
    expect(button).to_be_visible()
    return button


def in_view(page, item) -> bool:
    box = item.bounding_box()
    pane = page.locator("#scroller").bounding_box()
    return bool(
        box and pane and box["y"] >= pane["y"] - 1 and box["y"] < pane["y"] + pane["height"]
    )


def test_formatting_edits_reactions_replies_and_mentions(site, new_page):
    wide = {"viewport": {"width": 1280, "height": 800}}
    alice, bob = new_page(**wide), new_page(**wide)
    alice.context.add_init_script(NOTIFICATIONS)
    bob.context.add_init_script(NOTIFICATIONS)
    login(alice, site.url, "alice")
    login(bob, site.url, "bob")

    # Notifications are asked for only from a click, and "Not now" hides the offer for good.
    expect(bob.locator("#notify-enable")).to_be_visible()
    bob.click("#notify-dismiss")
    expect(bob.locator("#notify-enable")).to_be_hidden()
    expect(bob.locator("#notify-note")).to_contain_text("No notifications")
    alice.click("#notify-enable")
    expect(alice.locator("#notify-note")).to_contain_text(
        "Notifications are on for direct messages and mentions"
    )
    assert alice.evaluate("window.__asked") == 1 and bob.evaluate("window.__asked") is None

    # carol waits on the room list (its sidebar and cards show the counts, live).
    carol = new_page(**wide, bypass_csp=True)  # axe's script is added inline, at the end
    login(carol, site.url, "carol")
    open_room(alice, site.url, "den")
    open_room(bob, site.url, "den")
    expect(bob.locator("#notify-control")).to_be_hidden()  # remembered across pages

    # 1. Formatting: alice's Markdown is bold and a link for bob, opening in a new tab.
    alice.fill("#composer-input", "**bold** and https://www.djangoproject.com/")
    alice.press("#composer-input", "Enter")
    mine = message(bob, "and https://www.djangoproject.com/")
    expect(mine.locator(".msg-body strong")).to_have_text("bold")
    link = mine.locator(".msg-body a")
    expect(link).to_have_attribute("href", "https://www.djangoproject.com/")
    expect(link).to_have_attribute("target", "_blank")
    assert set(link.get_attribute("rel").split()) == {"noopener", "noreferrer", "nofollow"}
    assert "**" not in mine.locator(".msg-body").inner_text()
    # The server renders the same html into the first page.
    bob.reload()
    expect_state(bob, "connected")
    mine = message(bob, "and https://www.djangoproject.com/")
    expect(mine.locator(".msg-body strong")).to_have_text("bold")

    # 2. Edit: Up in the empty composer edits alice's last message; Enter saves.
    seq = int(message(alice, "and https://www.djangoproject.com/").get_attribute("data-seq"))
    alice.locator("#composer-input").focus()
    alice.keyboard.press("ArrowUp")
    expect(alice.locator("#edit-bar")).to_be_visible()
    expect(alice.locator("#send")).to_have_text("Save")
    expect(alice.locator("#composer-input")).to_have_value(
        "**bold** and https://www.djangoproject.com/"
    )
    alice.fill("#composer-input", "**bold** and _fixed_ https://www.djangoproject.com/")
    alice.press("#composer-input", "Enter")
    expect(alice.locator("#edit-bar")).to_be_hidden()
    expect(alice.locator("#composer-input")).to_have_value("")
    expect(alice.locator("#send")).to_have_text("Send")
    edited = bob.locator(f'#messages li.msg[data-seq="{seq}"]')
    expect(edited.locator(".msg-body em")).to_have_text("fixed")
    expect(edited.locator(".msg-edited")).to_have_text("(edited)")
    expect(edited.locator(".msg-edited")).to_have_attribute("title", re.compile(r"^Edited "))
    # Escape cancels an edit and gives the draft back.
    alice.fill("#composer-input", "a draft")
    action(alice, message(alice, "fixed"), "edit").click()
    expect(alice.locator("#composer-input")).to_have_value(
        "**bold** and _fixed_ https://www.djangoproject.com/"
    )
    alice.keyboard.press("Escape")
    expect(alice.locator("#edit-bar")).to_be_hidden()
    expect(alice.locator("#composer-input")).to_have_value("a draft")
    alice.fill("#composer-input", "")
    expect(action(bob, edited, "react")).to_be_visible()
    assert edited.locator('.msg-actions [data-action="edit"]').count() == 0  # not his

    # 3. Reactions: bob picks 👍; alice sees his chip (count 1, his name), he toggles it off.
    action(bob, edited, "react").click()
    picker = bob.locator("#reaction-picker")
    expect(picker).to_be_visible()
    expect(picker.locator('[data-emoji="👍"]')).to_be_focused()
    bob.keyboard.press("ArrowRight")
    expect(picker.locator('[data-emoji="❤️"]')).to_be_focused()
    bob.keyboard.press("ArrowLeft")
    bob.keyboard.press("Shift+Tab")  # focus stays in the picker: round to its last button
    expect(picker.locator("button").last).to_be_focused()
    bob.keyboard.press("Tab")
    expect(picker.locator('[data-emoji="👍"]')).to_be_focused()
    bob.keyboard.press("Escape")  # Escape closes it; focus goes back to its button
    expect(picker).to_be_hidden()
    expect(edited.locator('.msg-actions [data-action="react"]')).to_be_focused()
    bob.keyboard.press("Enter")
    expect(picker).to_be_visible()
    picker.locator('[data-emoji="👍"]').click()
    expect(picker).to_be_hidden()
    chip = alice.locator(f'#messages li.msg[data-seq="{seq}"] .reaction[data-emoji="👍"]')
    expect(chip).to_have_attribute("title", "bob")
    expect(chip.locator(".reaction-count")).to_have_text("1")
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(chip).to_have_accessible_name("👍 1 reaction: bob")
    bob_chip = edited.locator('.reaction[data-emoji="👍"]')
    expect(bob_chip).to_have_attribute("aria-pressed", "true")
    # Any one emoji from the picker's field; two characters are refused there.
    action(bob, edited, "react").click()
    bob.fill("#reaction-picker-input", "ab")
    bob.press("#reaction-picker-input", "Enter")
    expect(bob.locator("#reaction-picker-status")).to_have_text("Type exactly one emoji.")
    bob.fill("#reaction-picker-input", "🦄")
    bob.press("#reaction-picker-input", "Enter")
    expect(picker).to_be_hidden()
    expect(alice.locator(f'#messages li.msg[data-seq="{seq}"] .reaction')).to_have_count(
        2 + 1
    )  # +1: "+"
    bob_chip.click()  # off again
    expect(chip).to_have_count(0)
    expect(bob_chip).to_have_count(0)
    expect(
        alice.locator(f'#messages li.msg[data-seq="{seq}"] .reaction[data-emoji="🦄"]')
    ).to_have_count(1)

    # 4. Reply: bob answers alice's message; the quote shows it and jumps to it.
    action(bob, edited, "reply").click()
    expect(bob.locator("#reply-bar")).to_contain_text("Replying to alice: **bold** and _fixed_")
    expect(bob.locator("#composer-input")).to_be_focused()
    bob.keyboard.type("Agreed, ship it")
    bob.keyboard.press("Enter")
    expect(bob.locator("#reply-bar")).to_be_hidden()
    reply = message(alice, "Agreed, ship it")
    quote = reply.locator(".reply-quote")
    expect(quote.locator(".reply-user")).to_have_text("alice")
    expect(quote.locator(".reply-text")).to_have_text(
        "**bold** and _fixed_ https://www.djangoproject.com/"
    )
    original = alice.locator(f'#messages li.msg[data-seq="{seq}"]')
    quote.click()
    expect(original).to_be_focused()
    expect(original).to_have_class(re.compile(r"\bflash\b"))
    assert in_view(alice, original)

    # 5. Mentions: "@al" suggests alice; she sees the mention as hers, and a notification
    # while her tab is in the background.
    alice.evaluate(HIDE)
    bob.locator("#composer-input").focus()
    bob.keyboard.type("thanks @al")
    options = bob.locator("#mention-list [role=option]")
    expect(options).to_have_text(["@alice"])
    expect(bob.locator("#composer-input")).to_have_attribute(
        "aria-activedescendant", "mention-option-0"
    )
    expect(options.first).to_have_attribute("aria-selected", "true")
    bob.keyboard.press("Enter")  # picks; does not send
    expect(bob.locator("#mention-list")).to_be_hidden()
    expect(bob.locator("#composer-input")).to_have_value("thanks @alice ")
    bob.keyboard.type("for the fix, cc @carol")
    bob.keyboard.press("Enter")
    mention = message(alice, "thanks @alice for the fix")
    expect(mention.locator('.msg-body span.mention[data-user="alice"]')).to_have_class(
        "mention mention-me"
    )
    expect(mention).to_have_class(re.compile(r"\bmentions-me\b"))
    theirs = message(bob, "thanks @alice for the fix").locator("span.mention")
    expect(theirs).to_have_class(["mention", "mention"])  # neither is bob
    wait_until(alice, "window.__notes.length === 1")
    note = alice.evaluate("(({title, options}) => ({title, ...options}))(__notes[0])")
    assert note["title"] == "bob mentioned you in Design Review"
    assert note["body"] == "thanks @alice for the fix, cc @carol" and note["tag"].startswith(
        "mention:den:"
    )
    alice.evaluate(SHOW)
    # carol's mention badge, in the sidebar and on the room list's card.
    for where in ("#room-list", "#room-cards"):
        badge = carol.locator(f'{where} li[data-room="den"] .badge.mention')
        expect(badge).to_contain_text("@1")
        expect(badge.locator(".visually-hidden")).to_have_text(" 1 mention")

    # 6. A reply to a message far back: its quote fetched it; a click loads a window
    # around it, and "Jump to latest" comes back to the live end.
    far = message(alice, "Answering the very first one").locator(".reply-quote")
    expect(far.locator(".reply-text")).to_have_text(FIRST)
    expect(alice.locator('#messages li.msg[data-seq="1"]')).to_have_count(0)
    far.click()
    first = alice.locator('#messages li.msg[data-seq="1"]')
    expect(first).to_be_focused()
    expect(first.locator(".msg-body")).to_have_text(FIRST)
    assert in_view(alice, first)
    jump = alice.locator("#jump-latest")
    expect(jump).to_have_text("Jump to latest")
    expect(alice.locator('#messages li.msg[data-seq="100"]')).to_have_count(0)
    # Live messages meanwhile are not shown in the window (it would have a hole)...
    bob.fill("#composer-input", "while alice reads old things")
    bob.press("#composer-input", "Enter")
    message(bob, "while alice reads old things")
    jump.click()
    # ...and are there at the live end.
    message(alice, "while alice reads old things")
    expect(jump).to_be_hidden()
    expect(alice.locator('#messages li.msg[data-seq="1"]')).to_have_count(0)
    seqs = alice.eval_on_selector_all(
        "#messages li.msg", "els => els.map(e => Number(e.dataset.seq))"
    )
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one contiguous run
    alice.fill("#composer-input", "back at the end")
    alice.press("#composer-input", "Enter")
    message(bob, "back at the end")
    # Jumping again, then scrolling down: newer pages below the window until it reaches
    # the live end, which it then follows again.
    far.click()
    expect(first).to_be_focused()
    expect(jump).to_have_text("Jump to latest")
    wait_until(alice, SCROLL_DOWN, timeout=30)
    message(alice, "back at the end")
    seqs = alice.eval_on_selector_all(
        "#messages li.msg", "els => els.map(e => Number(e.dataset.seq))"
    )
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 100
    bob.fill("#composer-input", "live again")
    bob.press("#composer-input", "Enter")
    message(alice, "live again")

    # A deleted original says so in its replies' quotes, live (bob never loaded seq 1).
    action(alice, first, "delete").click()
    alice.locator("#mod-dialog [data-role=confirm]").click()
    far_bob = message(bob, "Answering the very first one").locator(".reply-quote")
    expect(far_bob.locator(".reply-text")).to_have_text("This message was deleted.")
    expect(bob.locator('#messages li.msg[data-seq="1"]')).to_have_count(0)
    # From a jump's window, posting brings the list back to the live end, with the post.
    far_bob.click()
    expect(bob.locator('#messages li.msg[data-seq="1"]')).to_be_focused()
    expect(bob.locator("#jump-latest")).to_have_text("Jump to latest")
    bob.fill("#composer-input", "posting from the past")
    bob.press("#composer-input", "Enter")
    message(bob, "posting from the past")
    expect(bob.locator("#jump-latest")).to_be_hidden()
    expect(bob.locator('#messages li.msg[data-seq="1"]')).to_have_count(0)
    expect(bob.locator("#outbox li")).to_have_count(0)
    # A refused edit is said in the banner, in the page's words.
    bob_seq = int(message(alice, "Agreed, ship it").get_attribute("data-seq"))
    alice.evaluate(f"window.chat.send({{type: 'edit', seq: {bob_seq}, body: 'mine now'}})")
    expect(alice.locator("#banner")).to_have_text("You can no longer edit this message.")
    expect(message(bob, "Agreed, ship it").locator(".msg-edited")).to_be_hidden()

    # 7. axe on what rich messages add: chips, quotes, a mention, the edited mark, the
    # reply bar, the picker and the suggestions, light and dark (axe's script is added
    # inline by the test: this page bypasses the CSP).
    open_room(carol, site.url, "den")
    message(carol, "Agreed, ship it")
    problems: dict[str, list[str]] = {}
    action(carol, message(carol, "Agreed, ship it"), "reply").click()
    carol.keyboard.type("@b")
    expect(carol.locator("#mention-list [role=option]")).to_have_text(["@bob"])
    audit(carol, problems, "room: chips, quotes, reply bar, suggestions")
    carol.keyboard.press("Escape")  # closes the suggestions
    expect(carol.locator("#mention-list")).to_be_hidden()
    carol.keyboard.press("Escape")  # cancels the reply
    expect(carol.locator("#reply-bar")).to_be_hidden()
    action(carol, message(carol, "fixed"), "react").click()
    expect(carol.locator("#reaction-picker")).to_be_visible()
    audit(carol, problems, "reaction picker")
    found = {label: found for label, found in problems.items() if found}
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
