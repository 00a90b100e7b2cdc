"""Headless Debian Chromium driven by Playwright (sync API) against a real daphne process.

Never a downloaded browser: /usr/bin/chromium, as installed by tests/run.sh. When Chromium
cannot start, browser tests skip on a laptop but FAIL under CI=true.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest

# The sign-up form's validators accept it; tests/test_csp_browser.py imports it from here.
from tests.support.accounts import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000  # generous: two shared cores, several browsers at once


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Chromium is required under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:  # pragma: no cover - playwright is in requirements-dev.txt
        _unavailable(f"playwright is not installed: {err}")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (tests/run.sh installs it)")
    from playwright.sync_api import expect

    # expect() has its own default (5 s), too short on a loaded machine.
    expect.set_options(timeout=TIMEOUT_MS)
    manager = sync_playwright().start()
    try:
        try:
            chromium = manager.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Exception as err:
            _unavailable(f"Chromium did not start: {err}")
        yield chromium
        chromium.close()
    finally:
        manager.stop()


@pytest.fixture
def new_page(browser) -> Iterator:
    """new_page(**context_options) -> a page in a fresh browser context (its own cookies
    and sessionStorage: another user). Page errors fail the test."""
    contexts = []
    errors: list[str] = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def signup(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("button[type=submit].primary")
    expect(page.locator("h1")).to_have_text("Rooms")


def login(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    expect(page.locator("h1")).to_have_text("Rooms")


def logout(page) -> None:
    from playwright.sync_api import expect

    page.click("form[action='/accounts/logout/'] button")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def open_room(page, base_url: str, room: str) -> None:
    page.goto(f"{base_url}/chat/{room}/")
    expect_state(page, "connected")


def expect_state(page, state: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#conn-state")).to_have_attribute("data-state", state)


def send(page, text: str) -> None:
    """Type a message and press Enter, as a user does."""
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def shown(page) -> list[tuple[int, str, str]]:
    """The stored messages on the page, top to bottom: (seq, user, body as displayed)."""
    rows = page.eval_on_selector_all(
        "#messages li.msg",
        """items => items.map(li => [Number(li.dataset.seq), li.dataset.user,
            li.querySelector('.msg-body').textContent])""",
    )
    return [tuple(row) for row in rows]


def pending(page) -> list[tuple[str, str]]:
    """The outbox on the page: (status class, body)."""
    rows = page.eval_on_selector_all(
        "#outbox li",
        """items => items.map(li => [li.classList.contains('failed') ? 'failed' : 'pending',
            li.querySelector('.msg-body').textContent])""",
    )
    return [tuple(row) for row in rows]


def expect_message(page, body: str, user: str | None = None):
    """Wait until a stored message with exactly this body is shown; return its locator."""
    from playwright.sync_api import expect

    items = page.locator("#messages li.msg")
    if user is not None:
        items = items.and_(page.locator(f'li[data-user="{user}"]'))
    item = items.filter(has=page.locator(".msg-body", has_text=re.compile(f"^{re.escape(body)}$")))
    expect(item).to_have_count(1)
    return item


def wait_until(page, expression: str, timeout: float = 10) -> None:
    """Wait until the JavaScript `expression` is truthy in `page`, or fail after `timeout`.

    Not Playwright's wait_for_function: when it has to poll, it compiles the predicate with
    eval in the page, which the site's Content-Security-Policy (no 'unsafe-eval') refuses.
    page.evaluate goes through the DevTools protocol, which the CSP does not govern."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression!r} still false after {timeout}s")
        page.wait_for_timeout(25)


# --- notifications in a background tab ----------------------------------------------------

# The Notification API as the page sees it, recording what it is asked to show. Headless
# Chromium has no notification centre; the permission the user grants is kept in
# localStorage, as the browser would keep it across pages.
NOTIFICATIONS = """
window.__notes = [];
class FakeNotification {
  constructor(title, options) {
    this.title = title; this.options = options || {}; this.closed = false;
    window.__notes.push(this);
  }
  close() { this.closed = true; }
  static get permission() { return localStorage.getItem('fake.permission') || 'default'; }
  static requestPermission() {
    window.__asked = (window.__asked || 0) + 1;
    localStorage.setItem('fake.permission', 'granted');
    return Promise.resolve('granted');
  }
}
window.Notification = FakeNotification;
"""

# A tab in the background, as far as the page can tell (headless pages are always visible),
# and back in front.
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
  document.hasFocus = () => false;
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
  delete document.visibilityState; delete document.hidden; delete document.hasFocus;
  document.dispatchEvent(new Event('visibilitychange'));
  window.dispatchEvent(new Event('focus'));
}"""
