"""The XSS corpus (tests/xss_corpus.py) in a real browser: every payload stored as a message
(through chat.services.post_message, the one write path, in the live daphne's database)
and shown to another user in headless Chromium, on both of the page's paths:

- the server-rendered first page (templates/chat/room.html, `{{ m.html|safe }}`), read once
  with the page's scripts blocked, so the DOM is exactly what the server sent as parsed by
  the browser (mutation XSS happens in that parse), and once as the page runs;
- the live path (static/chat/richtext.js puts `html` in through innerHTML): payloads posted
  over a WebSocket while the page is open.

The page checks: no dialog opened, `window.__xss` never set, the title never "pwned" (the
payloads' sentinels), and in #messages no script/iframe/object/embed/img/svg/math/style/
form/base/meta/link element, no attribute starting with "on", no href other than http(s)/
mailto, only the allowlisted tags inside a message body.

The site sends a Content-Security-Policy (django-csp: script-src 'self', no inline script
or handler), which would stop most payloads from running even if markup got through. So
the DOM checks are what prove the sanitizer, and CSP is the second wall: every check also
runs in a context with CSP bypassed (Playwright's bypass_csp), where a payload that got
through would really run and set its sentinel.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid

import pytest
import websockets
from playwright.sync_api import expect

from tests.browser import PASSWORD, login, open_room, wait_until
from tests.support.accounts import login as http_login
from tests.support.processes import manage
from tests.xss_corpus import PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PER_ROOM = 40  # plus the marker: within the first page the server renders (50)
ROOMS = [f"xss{i}" for i in range((len(PAYLOADS) + PER_ROOM - 1) // PER_ROOM)]
MARKER = "**bold** marker"  # proves the page shows `html` (a <strong>), not the body as text
LIVE = [
    "img-onerror",
    "svg-onload",
    "title-sentinel",
    "md-link-javascript",
    "md-link-entity-hex",
    "autolink-javascript",
    "linkify-quote",
    "mxss-svg-style",
    "mxss-noscript",
    "mention-break-attr",
    "fence-info-break",
]
LIVE_MARKER = "**bold** live marker"

SEED = f"""
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from chat import services
from chat.errors import ChatError
from tests.xss_corpus import PAYLOADS
User = get_user_model()
hashed = make_password({PASSWORD!r})
alice = User.objects.create(username='alice', password=hashed)
bob = User.objects.create(username='bob', password=hashed)
refused = {{}}
seqs = {{}}
for r, slug in enumerate({ROOMS!r}):
    room = services.create_room(slug=slug, user=alice, title='XSS ' + str(r))
    services.post_message(room=room, user=alice, body={MARKER!r})
    for label, body in PAYLOADS[r * {PER_ROOM}:(r + 1) * {PER_ROOM}]:
        try:
            posted = services.post_message(room=room, user=alice, body=body)
            seqs[label] = [slug, posted.message.seq]
        except ChatError as err:
            refused[label] = type(err).__name__
print('SEEDED ' + json.dumps({{'refused': refused, 'seqs': seqs}}))
"""

# Run in the page (a DevTools evaluate, which the CSP does not govern): what is wrong in
# #messages, as a list of strings (empty: inert).
INSPECT = """() => {
  const problems = [];
  const root = document.getElementById('messages');
  if (!root) return ['no #messages'];
  const where = el => {
    const li = el.closest('li.msg');
    return li ? `seq ${li.dataset.seq}` : 'outside a message';
  };
  const banned = 'script,iframe,frame,object,embed,img,image,svg,math,style,form,input,' +
    'textarea,base,meta,link,video,audio,source,template,noscript,details,marquee,table';
  for (const el of root.querySelectorAll(banned)) {
    problems.push(`<${el.tagName.toLowerCase()}> in ${where(el)}`);
  }
  for (const el of root.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) problems.push(`${name}= on <${el.tagName}> in ${where(el)}`);
      if (['srcdoc', 'formaction', 'action', 'src'].includes(name)) {
        problems.push(`${name}= on <${el.tagName}> in ${where(el)}`);
      }
    }
  }
  const allowed = new Set(['P', 'BR', 'EM', 'STRONG', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL',
    'OL', 'LI', 'A', 'SPAN']);
  for (const body of root.querySelectorAll('.msg-body')) {
    for (const el of body.querySelectorAll('*')) {
      if (!allowed.has(el.tagName)) problems.push(`<${el.tagName}> in ${where(el)}'s body`);
      if (el.hasAttribute('style')) problems.push(`style= in ${where(el)}'s body`);
      if (el.tagName === 'SPAN' && el.className.replace('mention-me', '').trim() !== 'mention') {
        problems.push(`span class="${el.className}" in ${where(el)}`);
      }
    }
  }
  for (const a of root.querySelectorAll('[href], [xlink\\\\:href]')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href') || '';
    let scheme = '';
    try { scheme = new URL(href, 'https://base.invalid/').protocol; } catch (e) { scheme = '?'; }
    if (!['http:', 'https:', 'mailto:'].includes(scheme)) {
      problems.push(`href ${JSON.stringify(href)} (${scheme}) in ${where(a)}`);
    }
    if (a.closest('.msg-body') && a.tagName === 'A' &&
        (a.target !== '_blank' || a.rel.split(/\\s+/).sort().join(' ') !==
         'nofollow noopener noreferrer')) {
      problems.push(`link without target/rel in ${where(a)}`);
    }
  }
  if (window.__xss !== undefined) problems.push(`window.__xss = ${window.__xss}`);
  if (/pwned/.test(document.title)) problems.push(`title ${document.title}`);
  return problems;
}"""

COUNT = "() => document.querySelectorAll('#messages li.msg').length"


@pytest.fixture
def corpus_site(live_env, live_server_factory):
    """The corpus stored (seqs by label, and what the write path refused), and a daphne."""
    out = manage(live_env, "shell", "-c", SEED, timeout=300)
    seeded = json.loads(re.search(r"^SEEDED (.*)$", out, re.M).group(1))
    return live_server_factory(), seeded


def bob_page(new_page, base_url: str, *, bypass_csp: bool):
    """bob's page, logged in; every dialog (alert, confirm, prompt) is recorded in
    page.dialogs and dismissed."""
    page = new_page(bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900})
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
    login(page, base_url, "bob")
    return page


def assert_inert(page, where: str) -> None:
    page.wait_for_timeout(300)  # an onerror/onload fires as soon as its element exists
    problems = page.evaluate(INSPECT)
    assert not page.dialogs, f"{where}: dialogs opened: {page.dialogs}"
    assert not problems, f"{where}: {problems}"


def expect_rich(page, marker: str, where: str) -> None:
    """The marker message shows as HTML (`**bold**` as a <strong>): the page renders `html`.
    If not, the page still shows bodies as text, and the corpus checks would prove nothing:
    that fails here (it never skips)."""
    tail = marker.split("** ", 1)[1]  # shown as HTML ("bold marker") or as text
    shape = re.compile(rf"^(\*\*)?bold(\*\*)? {re.escape(tail)}$")
    body = page.locator("#messages li.msg .msg-body").filter(has_text=shape).last
    expect(body).to_be_visible()
    shown = body.inner_text()
    assert body.locator("strong").count() == 1 and "**" not in shown, (
        f"{where}: the page shows {shown!r}, the body as text, not its html"
    )
    assert body.locator("strong").inner_text() == "bold"


def test_the_corpus_stays_inert_on_the_server_rendered_page(corpus_site, new_page) -> None:
    server, seeded = corpus_site
    # Only NUL is refused by the write path (protocol.storable); everything else is stored.
    assert set(seeded["refused"]) == {label for label, body in PAYLOADS if "\x00" in body}, seeded[
        "refused"
    ]
    for bypass_csp in (False, True):
        page = bob_page(new_page, server.url, bypass_csp=bypass_csp)
        # The page's scripts blocked: the DOM is the server's HTML as Chromium parsed it.
        page.route(re.compile(r"/static/.*\.js"), lambda route: route.abort())
        for slug in ROOMS:
            page.goto(f"{server.url}/chat/{slug}/")
            stored = 1 + sum(1 for s, _ in seeded["seqs"].values() if s == slug)
            assert page.evaluate(COUNT) == stored
            where = f"{slug}, server-rendered, scripts blocked, bypass_csp={bypass_csp}"
            expect_rich(page, MARKER, where)
            assert_inert(page, where)
        page.unroute(re.compile(r"/static/.*\.js"))
        # And as the page runs (its script takes the list over from the initial data).
        for slug in ROOMS:
            open_room(page, server.url, slug)
            where = f"{slug}, page running, bypass_csp={bypass_csp}"
            expect_rich(page, MARKER, where)
            assert_inert(page, where)


def _post_live(server, room: str, bodies: list[str]) -> None:
    """alice posts `bodies` over her own WebSocket (a client of the protocol, not the page:
    the composer's suggestions would get in the way of some payloads) and waits for each
    echo. In a thread: Playwright's sync API owns this thread's event loop."""
    cookie = http_login(server.url, "alice")
    errors: list[BaseException] = []

    async def post() -> None:
        async with websockets.connect(
            server.ws_url(room), additional_headers=[("Cookie", cookie)], origin=server.url
        ) as ws:
            ids = {f"xss-{uuid.uuid4().hex[:12]}": body for body in bodies}
            for client_id, body in ids.items():
                await ws.send(json.dumps({"type": "message", "body": body, "client_id": client_id}))
            while ids:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "error" and frame["code"] == "rate_limited":
                    # The post rate limit's burst is 10: send that one again when told.
                    await asyncio.sleep(frame.get("retry_after", 1.0))
                    retry = frame["client_id"]
                    await ws.send(
                        json.dumps({"type": "message", "body": ids[retry], "client_id": retry})
                    )
                elif frame["type"] == "error":
                    raise AssertionError(f"refused: {frame}")
                if frame["type"] == "message":
                    ids.pop(frame["message"].get("client_id"), None)

    def run() -> None:
        try:
            asyncio.run(post())
        except BaseException as err:  # re-raised in the test's thread
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(90)
    assert not thread.is_alive(), "posting live timed out"
    if errors:
        raise errors[0]


def test_payloads_posted_live_stay_inert(corpus_site, new_page) -> None:
    server, _ = corpus_site
    room = ROOMS[-1]
    pages = {csp: bob_page(new_page, server.url, bypass_csp=csp) for csp in (False, True)}
    before = {}
    for bypass_csp, page in pages.items():
        open_room(page, server.url, room)
        before[bypass_csp] = page.evaluate(COUNT)
    corpus = dict(PAYLOADS)
    bodies = [corpus[label] for label in LIVE] + [LIVE_MARKER]
    _post_live(server, room, bodies)
    for bypass_csp, page in pages.items():
        wait_until(page, f"({COUNT})() >= {before[bypass_csp] + len(bodies)}", timeout=30)
        where = f"{room}, live, bypass_csp={bypass_csp}"
        expect_rich(page, LIVE_MARKER, where)
        # Hover every link and mention: an onmouseover that got through would run now.
        for link in page.locator("#messages .msg-body a, #messages .msg-body span").all()[:60]:
            link.hover()
        assert_inert(page, where)
