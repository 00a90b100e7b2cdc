"""Moderation as people do it, in headless Chromium against a real daphne process: a staff
member deletes a message on the admin page while two users have the room open; the room's
owner bans with moderation.js's button; a member reports a message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import expect_message, expect_state, login, open_room, send
from tests.support.accounts import PASSWORD, create_user
from tests.support.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DELETED = "This message was deleted."


def action(page, seq: int, name: str):
    return page.locator(f'#messages li.msg[data-seq="{seq}"] .msg-actions [data-action="{name}"]')


def answer(page, text: str) -> None:
    """Fill the in-page <dialog> an action opens and confirm it."""
    dialog = page.locator("dialog#mod-dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator("input").fill(text)
    dialog.locator("[data-role=confirm]").click()
    expect(dialog).to_have_count(0)


def test_admin_delete_live_in_two_pages_then_ban_and_report_from_the_room(
    live_env, live_server_factory, new_page
):
    for name, flags in (("olga", {}), ("bob", {}), ("carl", {}), ("sam", {"is_staff": True})):
        create_user(live_env, name, PASSWORD, **flags)
    server = live_server_factory()
    olga, bob, carl, sam = new_page(), new_page(), new_page(), new_page()
    for page, name in ((olga, "olga"), (bob, "bob"), (carl, "carl"), (sam, "sam")):
        login(page, server.url, name)
    open_room(olga, server.url, "den")  # the first visitor creates the room and owns it
    open_room(bob, server.url, "den")
    open_room(carl, server.url, "den")
    send(olga, "welcome to the den")
    send(bob, "rude words")
    send(bob, "more from bob")
    for page in (olga, bob, carl):
        expect_message(page, "more from bob", user="bob")

    # Who gets which controls: the owner moderates; members report and delete their own.
    expect(action(olga, 2, "ban")).to_be_visible()
    expect(olga.locator(".mod-toolbar [data-action=lock]")).to_have_text("lock room")
    expect(action(bob, 2, "delete")).to_be_visible()
    expect(action(bob, 2, "ban")).to_have_count(0)
    expect(action(bob, 1, "report")).to_be_visible()
    expect(action(carl, 2, "delete")).to_have_count(0)
    expect(bob.locator(".mod-toolbar")).to_have_count(0)

    # Staff delete bob's message on the admin page: it vanishes in the open pages, live.
    sam.goto(server.url + "/admin/chat/message/?q=rude")
    sam.locator("#result_list tr", has_text="rude words").locator("input.action-select").check()
    sam.select_option("select[name=action]", "delete_messages")
    sam.click("button[name=index]")
    expect(sam.locator(".messagelist")).to_contain_text("Deleted: 1.")
    for page in (olga, bob, carl):
        expect(page.locator('#messages li.msg[data-seq="2"] .msg-body')).to_have_text(DELETED)
        expect(page.locator('#messages li.msg[data-seq="2"] .mod-action')).to_have_count(0)
    carl.reload()
    expect_state(carl, "connected")
    expect(carl.locator('#messages li.msg[data-seq="2"] .msg-body')).to_have_text(DELETED)

    # carl reports bob's other message from the room (the page's own dialog asks why).
    action(carl, 3, "report").click()
    answer(carl, "insulting")
    expect(carl.locator(".mod-toast")).to_contain_text("moderators will look")

    # The owner bans bob with the button: bob's page is closed and stays out.
    action(olga, 3, "ban").click()
    answer(olga, "spam")
    expect(olga.locator(".mod-toast")).to_contain_text("bob is banned")
    expect_state(bob, "closed")
    expect(bob.locator("#banner")).to_contain_text("removed")
    response = bob.goto(server.url + "/chat/den/")
    assert response is not None and response.status == 404

    # The admin shows the report (with the body as reported) and the audit log.
    sam.goto(server.url + "/admin/chat/report/?status=open")
    expect(sam.locator("#result_list")).to_contain_text("insulting")
    expect(sam.locator("#result_list")).to_contain_text("more from bob")
    sam.goto(server.url + "/admin/chat/auditlog/")
    rows = sam.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    # Columns: when, actor, action, room, target, seq, reason, detail.
    log = [row.split("\t")[1:] for row in rows.all_inner_texts()]
    assert log == [
        ["olga", "ban", "Den", "bob", "-", "spam", "permanent"],
        ["sam", "delete", "Den", "bob", "2", "deleted in the admin", "-"],
    ]
    stored = manage(
        live_env,
        "shell",
        "-c",
        "from chat.models import Message;"
        "print([m.body for m in Message.objects.filter(room__slug='den').order_by('seq')])",
    )
    assert stored.strip().splitlines()[-1] == "['welcome to the den', '', 'more from bob']"


def test_a_mute_closes_the_composer_at_once_and_lifting_it_opens_it(
    live_env, live_server_factory, new_page
):
    """The owner mutes bob with the message's button: bob's open page says so and closes
    its composer before he types a word; the owner lifts it from bob's card, or staff in
    the admin, and it opens again, with no reload (the `standing` frame)."""
    for name, flags in (("olga", {}), ("bob", {}), ("sam", {"is_staff": True})):
        create_user(live_env, name, PASSWORD, **flags)
    server = live_server_factory()
    olga, bob, sam = new_page(), new_page(), new_page()
    for page, name in ((olga, "olga"), (bob, "bob"), (sam, "sam")):
        login(page, server.url, name)
    open_room(olga, server.url, "den")  # the first visitor creates the room and owns it
    open_room(bob, server.url, "den")
    send(bob, "hello olga")
    expect_message(olga, "hello olga", user="bob")
    composer, note = bob.locator("#composer-input"), bob.locator("#composer-note")
    expect(composer).to_be_enabled()

    action(olga, 1, "mute").click()
    answer(olga, "5")
    expect(note).to_be_visible()
    expect(note).to_contain_text("You are muted in this room until")
    expect(composer).to_be_disabled()

    # The owner lifts it from bob's card (his name on his message).
    olga.locator('#messages li.msg[data-seq="1"] .msg-user').click()
    olga.locator("#user-card [data-action=unmute]").click()
    expect(olga.locator(".mod-toast")).to_contain_text("bob can post again")
    expect(note).to_be_hidden()
    expect(composer).to_be_enabled()

    # Muted again; this time staff lift it in the admin.
    action(olga, 1, "mute").click()
    answer(olga, "5")
    expect(composer).to_be_disabled()
    sam.goto(server.url + "/admin/chat/membership/?q=bob")
    sam.locator("#result_list tr", has_text="bob").locator("input.action-select").check()
    sam.select_option("select[name=action]", "unmute")
    sam.click("button[name=index]")
    expect(sam.locator(".messagelist")).to_contain_text("Unmuted")
    expect(note).to_be_hidden()
    expect(composer).to_be_enabled()
    send(bob, "thanks")
    expect_message(olga, "thanks", user="bob")
