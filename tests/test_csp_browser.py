"""Finding 11 in a real browser: under the site's Content-Security-Policy, headless
Chromium reports no violation on the site's pages or the admin's (the custom action page
included), the room's WebSocket connects, and the json_script data blocks are not treated
as scripts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import PASSWORD, expect_message, login, open_room, send
from tests.support.processes import manage

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEED = (
    "from django.contrib.auth import get_user_model\n"
    "from chat import services\n"
    "User = get_user_model()\n"
    f"boss = User.objects.create_superuser('boss', 'boss@example.com', {PASSWORD!r})\n"
    f"carol = User.objects.create_user('carol', password={PASSWORD!r})\n"
    "room = services.create_room(slug='lobby', user=boss)\n"
    "services.post_message(room=room, user=carol, body='hello <b>there</b>')\n"
    "services.report_message(room=room, reporter=boss, seq=1, reason='test')\n"
    "print('ids', room.pk, carol.pk)\n"
)

# Every CSP violation, as the page sees it (Chromium also logs each on the console).
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  `${e.violatedDirective}: ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


class Watch:
    """A page's console messages about CSP, its violation events and its failed loads."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.failed: list[str] = []
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._console)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        # A load the next navigation cancels (net::ERR_ABORTED) is no failure; a blocked one is.
        page.on(
            "requestfailed",
            lambda r: r.failure != "net::ERR_ABORTED" and self.failed.append(f"failed {r.url}"),
        )

    def _console(self, message) -> None:
        if "content security policy" in message.text.lower() or message.type == "error":
            self.console.append(f"{message.type}: {message.text}")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.ok, (url, response and response.status)
        assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
        self.check(url)

    def check(self, where: str) -> None:
        self.page.wait_for_load_state("load")
        events = self.page.evaluate("window.__csp")
        assert not self.console, (where, self.console)
        assert not events, (where, events)
        assert not self.failed, (where, self.failed)


def test_no_csp_violation_on_the_site_and_admin_pages(live_env, live_server_factory, new_page):
    out = manage(live_env, "shell", "-c", SEED)
    room_pk, carol_pk = re.search(r"^ids (\d+) (\d+)$", out, re.M).groups()
    server = live_server_factory()
    base = server.url

    visitor = Watch(new_page())
    for url in ("/accounts/login/", "/accounts/signup/"):
        visitor.visit(base + url)

    page = new_page()
    watch = Watch(page)
    login(page, base, "boss")
    watch.check("login")
    watch.visit(base + "/")
    open_room(page, base, "lobby")  # the WebSocket connected under connect-src
    expect_message(page, "hello <b>there</b>", user="carol")  # rendered from json_script data
    send(page, "sent under the policy")
    expect_message(page, "sent under the policy", user="boss")
    watch.check("room")

    admin_pages = [
        "/admin/",
        "/admin/chat/room/",
        "/admin/chat/message/",
        "/admin/chat/membership/",
        "/admin/chat/report/",
        "/admin/chat/auditlog/",
        "/admin/auth/user/",
        f"/admin/chat/room/{room_pk}/change/",
        f"/admin/auth/user/{carol_pk}/change/",  # filter_horizontal widgets, password widget
        "/admin/auth/user/add/",
        "/admin/chat/message/?q=hello",
        "/admin/chat/room/?locked__exact=0",
    ]
    for url in admin_pages:
        watch.visit(base + url)

    # The custom intermediate page of an action (chat/templates/admin/chat/action_form.html).
    watch.visit(base + "/admin/chat/room/")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "set_slow_mode")
    page.click("button[name=index]")
    expect(page.locator("input[name=seconds]")).to_be_visible()
    watch.check("slow mode form")
    page.fill("input[name=seconds]", "5")
    page.click("input[name=apply]")
    expect(page.locator(".messagelist")).to_contain_text(re.compile("Slow mode set"))
    watch.check("after the action")


def test_self_alone_lets_the_room_socket_connect(live_env, live_server_factory, new_page):
    """With ALLOWED_HOSTS=* the policy names no ws:/wss: source, only 'self': Chromium
    still lets the room page open its WebSocket to the same host and port (CSP 3)."""
    server = live_server_factory({**live_env, "ALLOWED_HOSTS": "*"})
    page = new_page()
    watch = Watch(page)
    response = page.goto(server.url + "/accounts/signup/")
    csp = dict(response.headers)["content-security-policy"]
    assert "connect-src 'self';" in csp + ";", csp
    page.fill("#id_username", "dora")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page.locator("h1")).to_have_text("Rooms")
    open_room(page, server.url, "lobby")
    send(page, "over 'self'")
    expect_message(page, "over 'self'", user="dora")
    watch.check("room")
