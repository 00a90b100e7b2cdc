"""Private rooms and direct conversations as people use them, in headless Chromium against a
real daphne (docs/protocol.md "Private rooms and direct conversations (version 2)"):
alice makes a private room with the room list's form and invites bob in the page's dialog
(his sidebar shows it at once); carol joins through an invitation link made in the page,
then leaves; alice writes to bob from the member panel, and bob, his tab in the
background, gets a browser notification that opens the conversation; carol starts one from
the room list; dave sees no trace of any of it; and when alice removes bob, his open page
says he is no longer a member instead of reconnecting. Then axe-core on the invite dialog,
a private room's member panel, a person's card and the invitation pages, light and dark."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import (
    HIDE,
    NOTIFICATIONS,
    PASSWORD,
    expect_message,
    expect_state,
    login,
    open_room,
    send,
    wait_until,
)
from tests.support.processes import manage
from tests.test_ui_browser import audit

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

USERS = (
    "from django.contrib.auth import get_user_model\n"
    "from django.contrib.auth.hashers import make_password\n"
    "from chat import services\n"
    "User = get_user_model()\n"
    f"hashed = make_password({PASSWORD!r})\n"  # one hash (~0.3 s of CPU) for every user
    "alice, bob, carol, dave = (User.objects.create(username=n, password=hashed)\n"
    "                           for n in ('alice', 'bob', 'carol', 'dave'))\n"
)


@pytest.fixture
def site(live_env, live_server_factory):
    manage(live_env, "shell", "-c", USERS)
    # As on a real site: an unknown room's address is a 404, as a private room's is.
    return live_server_factory({**live_env, "CHAT_AUTO_CREATE_ROOMS": "0"})


def names(page) -> list[str]:
    """The member panel's entries as they read: avatar initials, name, "(you)"/"(offline)"."""
    return page.eval_on_selector_all(
        "#member-list li", "items => items.map(li => li.textContent.trim())"
    )


def confirm(page) -> None:
    """Confirm the question moderation.js's in-page dialog asks."""
    dialog = page.locator("dialog#mod-dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-role=confirm]").click()
    expect(dialog).to_have_count(0)


def card_action(page, user: str, action: str) -> None:
    """Open `user`'s card from the member panel and press one of its buttons."""
    if page.locator("#member-panel").is_hidden():
        page.click("#members-toggle")
    page.locator(f'#member-list li[data-user="{user}"] button').click()
    card = page.locator("#user-card")
    expect(card).to_be_visible()
    card.locator(f"[data-action={action}]").click()


def test_private_room_invitations_direct_messages_and_removal(site, new_page):
    wide = {"viewport": {"width": 1280, "height": 800}}
    alice = new_page(**wide, permissions=["clipboard-read", "clipboard-write"])
    bob = new_page(**wide)
    bob.context.add_init_script(NOTIFICATIONS)
    login(alice, site.url, "alice")
    login(bob, site.url, "bob")

    # bob turns on notifications for direct messages (asked from his click, once).
    expect(bob.locator("#notify-enable")).to_have_text("Turn on notifications")
    bob.click("#notify-enable")
    expect(bob.locator("#notify-enable")).to_be_hidden()
    expect(bob.locator("#notify-note")).to_contain_text("Notifications are on")

    # alice makes a private room with the room list's form.
    private = alice.get_by_role("checkbox", name="Private")
    expect(private).to_have_accessible_description(
        "Only the people you invite can see a private room."
    )
    alice.fill("#id_title", "Secret plans")
    private.check()
    alice.click(".create-room button[type=submit]")
    expect(alice).to_have_url(re.compile(r"/chat/secret-plans/$"))
    expect_state(alice, "connected")
    expect(alice.locator(".room-header").get_by_role("img", name="Private room")).to_be_visible()
    mine = alice.locator('#room-list li[data-room="secret-plans"] a')
    expect(mine).to_have_accessible_name("Private room Secret plans")
    expect(bob.locator('#room-list li[data-room="secret-plans"]')).to_have_count(0)

    # She invites bob in the page's dialog; a name that is nobody's is refused there.
    alice.click("#invite-open")
    expect(alice.locator("#invite-dialog")).to_be_visible()
    expect(alice.locator("#invite-user")).to_be_focused()
    alice.fill("#invite-user", "nobody")
    alice.press("#invite-user", "Enter")
    status = alice.locator("#invite-status")
    expect(status).to_have_text(
        "nobody cannot be invited: there is no user of that name, or they are banned from "
        "this room."
    )
    expect(alice.locator("#banner")).to_be_hidden()  # said in the dialog, not twice
    alice.fill("#invite-user", "bob")
    alice.press("#invite-user", "Enter")
    expect(status).to_have_text("bob is a member now.")
    # bob's open room list shows it at once, in the sidebar and the cards, locked.
    expect(bob.locator('#room-list li[data-room="secret-plans"] a')).to_have_accessible_name(
        "Private room Secret plans"
    )
    expect(bob.locator('#room-cards li[data-room="secret-plans"] .room-lock')).to_be_visible()

    # An invitation link for a day: the full address to copy, and until when.
    alice.select_option("#invite-hours", "24")
    alice.click("#invite-create")
    address = alice.locator("#invite-url")
    expect(address).to_have_value(re.compile(re.escape(site.url) + r"/invite/[\w:-]+/$"))
    expect(alice.locator("#invite-expires")).to_have_text(re.compile(r"^Expires \w{3} \d"))
    link = address.input_value()
    alice.click("#invite-copy")
    expect(alice.locator("#invite-link-status")).to_have_text("Link copied.")
    assert alice.evaluate("navigator.clipboard.readText()") == link
    alice.keyboard.press("Escape")
    expect(alice.locator("#invite-dialog")).to_be_hidden()
    expect(alice.locator("#invite-open")).to_be_focused()

    bob.click('#room-list li[data-room="secret-plans"] a')
    expect_state(bob, "connected")
    expect(bob.locator("#invite-open")).to_be_hidden()  # a member, not a moderator

    # carol follows the link: a page naming the room and who invited her; the button joins.
    carol = new_page(**wide)
    login(carol, site.url, "carol")
    carol.goto(link)
    expect(carol.locator("h1")).to_have_text("Join Secret plans")
    expect(carol.get_by_text("alice invited you to this private room.")).to_be_visible()
    carol.get_by_role("button", name="Join the room").click()
    expect(carol).to_have_url(re.compile(r"/chat/secret-plans/$"))
    expect_state(carol, "connected")

    # alice's member panel lists every member, online first, the rest greyed as offline.
    alice.click("#members-toggle")
    expect(alice.get_by_role("complementary", name="Members")).to_be_visible()
    expect(alice.locator("#member-list li.online")).to_have_count(3)
    assert names(alice) == ["ALalice (you)", "BObob", "CAcarol"]
    carol.goto(site.url + "/")
    expect(alice.locator('#member-list li[data-user="carol"] button')).to_have_accessible_name(
        "carol (offline)"
    )
    assert names(alice) == ["ALalice (you)", "BObob", "CAcarol (offline)"]
    expect(alice.locator("#online-count")).to_have_text("2 online")

    # carol comes back and leaves: the room list says so, and the room is gone from it.
    carol.click('#room-list li[data-room="secret-plans"] a')
    expect_state(carol, "connected")
    carol.click("#members-toggle")
    carol.click("#leave-room")
    confirm(carol)
    expect(carol).to_have_url(site.url + "/")
    expect(carol.locator(".page-toast")).to_have_text("You left Secret plans.")
    expect(carol.locator('#room-list li[data-room="secret-plans"]')).to_have_count(0)
    expect(carol.locator('#room-cards li[data-room="secret-plans"]')).to_have_count(0)
    expect(alice.locator("#member-list li")).to_have_count(2)

    # From the room list, carol writes to alice: "New message" and a username.
    carol.fill("#new-dm-user", "nobody")
    carol.press("#new-dm-user", "Enter")
    expect(carol.locator("#new-dm-status")).to_have_text("There is no user called nobody.")
    carol.fill("#new-dm-user", "alice")
    carol.press("#new-dm-user", "Enter")
    expect(carol).to_have_url(re.compile(r"/chat/dm-[0-9a-f]{12}/$"))
    expect(carol.locator("#room-title")).to_have_text("alice")
    carols_dm = carol.url.rstrip("/").rsplit("/", 1)[1]

    # alice writes to bob from the member panel; bob's tab is in the background.
    bob.evaluate(HIDE)
    card_action(alice, "bob", "message")
    expect(alice).to_have_url(re.compile(r"/chat/dm-[0-9a-f]{12}/$"))
    dm_url = alice.url
    expect_state(alice, "connected")
    expect(alice.locator("#room-title")).to_have_text("bob")  # not "alice · bob"
    expect(alice).to_have_title("bob · Chat")
    expect(alice.locator('#dm-list a[aria-current="page"]')).to_have_accessible_name("bob")
    expect(alice.locator("#dm-list li")).to_have_count(2)  # carol's too
    expect(alice.locator("#invite-open")).to_be_hidden()
    expect(alice.locator("#member-panel-foot")).to_be_hidden()  # a conversation is not left
    send(alice, "hi bob, a word in private?")
    expect_message(alice, "hi bob, a word in private?", user="alice")

    # bob's sidebar lists the conversation by alice's name, with the message unread.
    expect(bob.locator("#dm-list li a")).to_have_accessible_name("alice 1 unread")
    expect(bob.locator("#dm-empty")).to_be_hidden()
    wait_until(bob, "window.__notes.length === 1")
    note = bob.evaluate("({title: __notes[0].title, body: __notes[0].options.body})")
    assert note == {"title": "alice", "body": "hi bob, a word in private?"}
    assert bob.evaluate("window.__asked || 0") == 0  # asked once, on his click, not here
    bob.evaluate("__notes[0].onclick()")  # a click on it opens the conversation
    expect(bob).to_have_url(dm_url)
    expect_message(bob, "hi bob, a word in private?", user="alice")
    expect(bob.locator("#room-title")).to_have_text("alice")

    # Back in the private room, bob is away: alice's panel greys him.
    alice.click('#room-list li[data-room="secret-plans"] a')
    expect_state(alice, "connected")
    alice.click("#members-toggle")
    expect(alice.locator('#member-list li[data-user="bob"]')).to_have_class(
        re.compile(r"\boffline\b")
    )
    open_room(bob, site.url, "secret-plans")
    expect(alice.locator('#member-list li[data-user="bob"]')).to_have_class(
        re.compile(r"\bonline\b")
    )

    # alice removes bob: his open page says he is no longer a member, and stays closed.
    card_action(alice, "bob", "remove")
    confirm(alice)
    expect(alice.locator(".mod-toast")).to_have_text("bob is no longer a member.")
    expect(alice.locator("#member-list li")).to_have_count(1)
    banner = bob.locator("#banner")
    expect(banner).to_have_text(
        "You are no longer a member of this room. Go to the room list", timeout=10_000
    )
    expect(banner.get_by_role("link", name="Go to the room list")).to_have_attribute("href", "/")
    expect_state(bob, "closed")
    expect(bob.locator("#composer-input")).to_be_disabled()
    expect(bob.locator('#room-list li[data-room="secret-plans"]')).to_have_count(0)

    # dave sees no trace of the room or the conversation, and their addresses are 404s.
    dave = new_page(**wide)
    login(dave, site.url, "dave")
    expect(dave.locator("#sidebar")).to_have_attribute("data-live", "true")
    expect(dave.locator("#room-list li")).to_have_count(1)  # lobby
    expect(dave.locator("#dm-list li")).to_have_count(0)
    expect(dave.locator("#dm-empty")).to_be_visible()
    expect(dave.locator("#room-cards li")).to_have_count(1)
    page = dave.content()
    slugs = ["secret-plans", dm_url.rstrip("/").rsplit("/", 1)[1], carols_dm]
    assert "Secret plans" not in page and not any(slug in page for slug in slugs)
    for url in (site.url + "/chat/secret-plans/", dm_url):
        response = dave.goto(url)
        assert response is not None and response.status == 404
        expect(dave.locator("h1")).to_have_text("Page not found")

    # bob's page did not start reconnecting meanwhile.
    expect_state(bob, "closed")
    expect(banner).to_contain_text("You are no longer a member of this room.")


AXE_SEED = USERS + (
    "den = services.new_room(user=alice, title='Design Review', private=True)\n"
    "for who in ('bob', 'carol'): services.invite(room=den, actor=alice, user=who)\n"
    "invitation, token = services.create_invitation(room=den, actor=alice, hours=24)\n"
    "print('TOKEN=' + token)\n"
)


def test_axe_on_the_private_room_controls(live_env, live_server_factory, new_page):
    """No serious or critical axe-core violation, light and dark: a private room's member
    panel (bob online, carol offline), a person's card, the invite dialog with a link made,
    and the invitation pages (valid and not)."""
    token = re.search(r"TOKEN=(\S+)", manage(live_env, "shell", "-c", AXE_SEED)).group(1)
    site = live_server_factory({**live_env, "CHAT_AUTO_CREATE_ROOMS": "0"})
    options = {"bypass_csp": True, "viewport": {"width": 1280, "height": 800}}
    problems: dict[str, list[str]] = {}
    alice, bob = new_page(**options), new_page(**options)
    login(alice, site.url, "alice")
    login(bob, site.url, "bob")
    audit(alice, problems, "/ (the Private box)")
    open_room(bob, site.url, "design-review")
    open_room(alice, site.url, "design-review")
    alice.click("#members-toggle")
    expect(alice.locator("#member-list li.online")).to_have_count(2)
    expect(alice.locator("#member-list li.offline")).to_have_count(1)
    audit(alice, problems, "member panel")
    alice.locator('#member-list li[data-user="bob"] button').click()
    expect(alice.locator("#user-card [data-action=message]")).to_be_focused()
    expect(alice.locator("#user-card [data-action=remove]")).to_be_visible()
    audit(alice, problems, "a person's card")
    alice.keyboard.press("Escape")
    expect(alice.locator("#user-card")).to_be_hidden()
    alice.click("#invite-open")
    alice.click("#invite-create")
    expect(alice.locator("#invite-made")).to_be_visible()
    audit(alice, problems, "invite dialog")
    dave = new_page(**options)
    login(dave, site.url, "dave")
    dave.goto(f"{site.url}/invite/{token}/")
    expect(dave.locator("h1")).to_have_text("Join Design Review")
    audit(dave, problems, "/invite/<token>/")
    response = dave.goto(f"{site.url}/invite/{token}x/")
    assert response is not None and response.status == 404
    audit(dave, problems, "/invite/<bad token>/")
    found = {label: found for label, found in problems.items() if found}
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
