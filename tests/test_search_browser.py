"""Search on the page, in headless Chromium against a real daphne (docs/search.md): a room
of 300 messages; alice finds an old one from the header's search box ("/" focuses it),
the results page shows the room's group with the word marked, and the result opens the
room at that message (in view, marked, focused, its neighbours loaded), detached from the
live end; bob posts meanwhile, and "Jump to latest" shows his message and the newest. A
Japanese word is found through the header's box scoped to "This room". The room's menu
offers the transcript's two downloads. axe-core on the new parts, light and dark."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import PASSWORD, expect_message, login, open_room, send, wait_until
from tests.support.processes import manage
from tests.test_ui_browser import audit

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WORD = "zeppelin"
OLD = f"The {WORD} lands at noon on the north field"  # seq 20
JAPANESE = "明日は東京タワーに行きます"  # seq 40
LAST = 300

SEED = (
    "from django.contrib.auth import get_user_model\n"
    "from django.contrib.auth.hashers import make_password\n"
    "from chat import protocol, services\n"
    "User = get_user_model()\n"
    f"hashed = make_password({PASSWORD!r})\n"
    "alice, bob = (User.objects.create(username=n, password=hashed) for n in ('alice', 'bob'))\n"
    "den = services.create_room(slug='den', user=alice, title='Design Review')\n"
    f"bodies = [f'filler {{n}}' for n in range(1, {LAST + 1})]\n"
    f"bodies[19] = {OLD!r}\n"
    f"bodies[39] = {JAPANESE!r}\n"
    f"bodies[{LAST - 1}] = 'the newest seeded message'\n"
    "for start in range(0, len(bodies), 50):\n"
    "    services.post_messages(room=den, user=bob if start % 100 else alice, rate_limit=False,\n"
    "        posts=[protocol.Post(b) for b in bodies[start:start + 50]])\n"
)


@pytest.fixture
def site(live_env, live_server_factory):
    manage(live_env, "shell", "-c", SEED)
    return live_server_factory()


def item(page, seq: int):
    return page.locator(f'#messages li.msg[data-seq="{seq}"]')


def in_view(page, seq: int) -> bool:
    """Message `seq` is on screen in the scroller, not near its edges."""
    return page.evaluate(
        """seq => {
          const li = document.querySelector(`#messages li.msg[data-seq="${seq}"]`);
          if (!li) return false;
          const box = li.getBoundingClientRect();
          const pane = document.getElementById('scroller').getBoundingClientRect();
          return box.top >= pane.top && box.bottom <= pane.bottom;
        }""",
        seq,
    )


def test_search_from_the_header_opens_the_room_at_the_message(site, new_page):
    wide = {"viewport": {"width": 1280, "height": 800}}
    # bypass_csp: axe's script is added inline by the test, not by the page.
    alice, bob = new_page(**wide, bypass_csp=True), new_page(**wide)
    login(bob, site.url, "bob")
    open_room(bob, site.url, "den")
    login(alice, site.url, "alice")
    open_room(alice, site.url, "den")
    expect(item(alice, LAST)).to_be_visible()

    # The room's menu: the transcript as JSON and as text, plain downloads.
    problems: dict[str, list[str]] = {}
    toggle = alice.locator("#room-menu-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    audit(alice, problems, "/chat/den/ (room menu)")
    links = alice.locator('#room-menu [role="menuitem"]')
    expect(links).to_have_count(2)
    expect(links.first).to_be_focused()
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        "/chat/den/export.json",
        "/chat/den/export.txt",
    ]
    assert all(links.nth(i).get_attribute("download") is not None for i in range(2))
    alice.keyboard.press("ArrowDown")
    expect(links.nth(1)).to_be_focused()
    answer = alice.request.get(site.url + "/chat/den/export.txt")
    assert answer.status == 200 and "attachment" in answer.headers["content-disposition"]
    assert OLD in answer.text()
    alice.keyboard.press("Escape")
    expect(alice.locator("#room-menu")).to_be_hidden()
    expect(toggle).to_be_focused()
    # The help lists the search shortcut.
    expect(alice.locator("#help-dialog dt kbd", has_text=re.compile(r"^/$"))).to_have_count(1)

    # "/" (not in a field) focuses the header's box; Enter searches.
    alice.keyboard.press("/")
    box = alice.locator("#header-search-input")
    expect(box).to_be_focused()
    alice.keyboard.type(WORD)
    alice.keyboard.press("Enter")
    expect(alice).to_have_url(re.compile(rf"/search/\?q={WORD}$"))
    group = alice.locator("section.search-room", has=alice.locator("h2#search-room-den"))
    expect(group).to_have_count(1)
    hit = group.locator('a[href="/chat/den/?at=20"]')
    expect(hit.locator(".search-excerpt mark")).to_have_text(WORD)
    expect(hit.locator(".msg-user")).to_have_text("alice")
    expect(alice.locator("#id_q")).to_have_value(WORD)
    audit(alice, problems, "/search/")

    # The result opens the room at seq 20: in view, marked, focused, with its context.
    hit.click()
    expect(alice).to_have_url(re.compile(r"/chat/den/\?at=20$"))
    target = item(alice, 20)
    expect(target).to_have_class(re.compile(r"\btarget\b"))
    expect(target).to_be_focused()
    wait_until(alice, "document.getElementById('conn-state').dataset.state === 'connected'")
    assert in_view(alice, 20)
    expect(item(alice, 19)).to_have_count(1)
    expect(item(alice, 21)).to_have_count(1)
    expect(item(alice, LAST)).to_have_count(0)  # a window, not the live end
    jump = alice.locator("#jump-latest")
    expect(jump).to_be_visible()

    # bob posts while alice reads the old window: not shown there, not lost.
    send(bob, "posted while alice was reading")
    expect_message(bob, "posted while alice was reading", user="bob")
    wait_until(alice, "!document.getElementById('jump-latest').hidden")
    meanwhile = alice.locator("#messages li.msg", has_text="posted while alice was reading")
    expect(meanwhile).to_have_count(0)
    jump.click()
    expect_message(alice, "posted while alice was reading", user="bob")
    expect(item(alice, LAST)).to_have_count(1)
    expect(item(alice, LAST + 1)).to_have_count(1)
    expect(jump).to_be_hidden()
    expect(item(alice, 20)).to_have_count(0)
    # Live messages still arrive at the end.
    send(bob, "and one more after that")
    expect_message(alice, "and one more after that", user="bob")

    # A Japanese word, searched in this room only ("This room" ticked).
    box.click()
    box.fill("東京タワー")
    alice.locator("#header-search-room").check()
    box.press("Enter")
    expect(alice).to_have_url(re.compile(r"/search/\?q=.+&room=den$"))
    hit = alice.locator('section.search-room a[href="/chat/den/?at=40"]')
    expect(hit.locator(".search-excerpt mark")).to_have_text("東京タワー")
    expect(alice.locator("#search-room-select")).to_have_value("den")
    hit.click()
    target = item(alice, 40)
    expect(target).to_have_class(re.compile(r"\btarget\b"))
    expect(target.locator(".msg-body")).to_have_text(JAPANESE)
    expect(item(alice, 39)).to_have_count(1)
    expect(item(alice, 41)).to_have_count(1)
    audit(alice, problems, "/chat/den/?at=40")
    alice.emulate_media(color_scheme="light")

    # A result among the latest messages: marked on the page as rendered, no window.
    alice.goto(site.url + f"/chat/den/?at={LAST - 3}")
    expect(item(alice, LAST - 3)).to_have_class(re.compile(r"\btarget\b"))
    expect(item(alice, LAST - 3)).to_be_focused()
    expect(alice.locator("#conn-state")).to_have_attribute("data-state", "connected")
    expect(item(alice, LAST + 2)).to_have_count(1)
    expect(item(alice, LAST - 3)).to_be_focused()

    # A seq the room does not have: the latest page, and a word why.
    alice.goto(site.url + f"/chat/den/?at={LAST + 500}")
    expect(alice.locator("#banner")).to_be_visible()
    expect(item(alice, LAST + 2)).to_have_count(1)
    expect(alice.locator("#messages li.msg.target")).to_have_count(0)
    expect(alice.locator("#jump-latest")).not_to_have_text("Jump to latest")
    found = {label: found for label, found in problems.items() if found}
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)


# While alice is away, 100 more messages come and a purge takes seqs 1..350 (the first 350
# made old): her resume from since=300 starts at 351.
PURGE = (
    "from datetime import timedelta\n"
    "from django.contrib.auth import get_user_model\n"
    "from django.utils import timezone\n"
    "from chat import protocol, selectors, services\n"
    "from chat.models import Message\n"
    "from chat.services import retention\n"
    "bob = get_user_model().objects.get(username='bob')\n"
    "den = selectors.get_room('den')\n"
    "for start in (301, 351):\n"
    "    services.post_messages(room=den, user=bob, rate_limit=False,\n"
    "        posts=[protocol.Post(f'while away {n}') for n in range(start, start + 50)])\n"
    "Message.objects.filter(room=den, seq__lte=350).update(\n"
    "    created_at=timezone.now() - timedelta(days=30))\n"
    "for planned in retention.plan(7):\n"
    "    retention.purge(planned=planned)\n"
    "den.refresh_from_db()\n"
    "print('purged_upto', den.purged_upto)\n"
)


def test_a_resume_across_a_purge_goes_on_from_the_first_kept_message(site, live_env, new_page):
    """Retention (docs/search.md): the seqs between the page's last and the first kept
    message no longer exist; the page shows what is kept and goes on live, instead of
    waiting for seqs that never come."""
    alice = new_page(viewport={"width": 1280, "height": 800})
    login(alice, site.url, "alice")
    open_room(alice, site.url, "den")
    expect(item(alice, LAST)).to_have_count(1)
    alice.context.set_offline(True)
    expect(alice.locator("#conn-state")).to_have_attribute("data-state", "offline")
    assert "purged_upto 350" in manage(live_env, "shell", "-c", PURGE)
    alice.context.set_offline(False)
    expect(alice.locator("#conn-state")).to_have_attribute("data-state", "connected")
    expect(item(alice, 400)).to_have_count(1)
    expect(item(alice, 351)).to_have_count(1)
    expect(item(alice, 301)).to_have_count(0)  # purged: never comes
    send(alice, "after the purge")
    expect_message(alice, "after the purge", user="alice")
    expect(item(alice, 401)).to_have_count(1)
    assert alice.locator("#outbox li").count() == 0
