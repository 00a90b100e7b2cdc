"""Static files as production serves them: with DEBUG off, `manage.py collectstatic` writes
content-hashed names (chatsite/staticfiles.py StaticStorage, whitenoise's manifest storage)
that whitenoise serves with far-future cache headers. The page's scripts are ES modules
importing each other by relative name, so the collected modules must import the hashed
names too (Django rewrites `import ... from "./x.js";` when
support_js_module_import_aggregation is on), or a browser would load the plain names: a
module stale for a year after a deploy, or loaded twice under two names."""

from __future__ import annotations

import json
import posixpath
import re
import runpy
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import expect_message, login, open_room, send
from tests.support.accounts import create_user, make_user
from tests.support.processes import ROOT, base_env, manage

# A module specifier in a static import or export (`import {a} from "./x.js";`,
# `export * from "./x.js";`, `import "./x.js";`) or a dynamic `import("./x.js")`.
SPECIFIER = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']""")
SCRIPT = re.compile(r"<script\b([^>]*)>")


def specifiers(text: str) -> list[str]:
    return SPECIFIER.findall(text)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    """A STATIC_ROOT filled by collectstatic as a deployment runs it (DEBUG off)."""
    root = tmp_path_factory.mktemp("static-root")
    manage(base_env(DEBUG="0", STATIC_ROOT=str(root)), "collectstatic", "--noinput")
    return root


@pytest.fixture(scope="module")
def manifest(collected) -> dict[str, str]:
    """Plain name -> hashed name, from collectstatic's manifest."""
    return json.loads((collected / "staticfiles.json").read_text())["paths"]


def production_settings(monkeypatch, static_root: Path) -> dict:
    """chatsite/settings.py as a deployment's process reads it: DEBUG off, this STATIC_ROOT."""
    monkeypatch.setenv("DEBUG", "0")
    monkeypatch.setenv("STATIC_ROOT", str(static_root))
    return runpy.run_path(str(ROOT / "chatsite" / "settings.py"))


def test_production_settings_serve_the_manifest(collected, monkeypatch):
    """What the settings pick with DEBUG off once collectstatic has run: the hashed
    storage, and whitenoise serving STATIC_ROOT only (no finders, no autorefresh)."""
    prod = production_settings(monkeypatch, collected)
    assert prod["STORAGES"]["staticfiles"]["BACKEND"] == "chatsite.staticfiles.StaticStorage"
    assert prod["WHITENOISE_USE_FINDERS"] is False
    assert prod["WHITENOISE_AUTOREFRESH"] is False


def test_collected_modules_import_only_hashed_names(collected, manifest):
    hashed = set(manifest.values())
    modules = {name: stored for name, stored in manifest.items() if name.startswith("chat/")}
    modules = {name: stored for name, stored in modules.items() if name.endswith(".js")}
    assert "chat/chat.js" in modules and modules["chat/chat.js"] != "chat/chat.js"
    seen = {}
    for name, stored in modules.items():
        source = specifiers((ROOT / "static" / name).read_text())
        found = specifiers((collected / stored).read_text())
        # Every import was rewritten (none left out because of a form Django's patterns
        # do not match), each to the hashed name of the file it imports, which exists.
        assert len(found) == len(source), (stored, source, found)
        for plain, spec in zip(source, found, strict=True):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), spec))
            expected = manifest[posixpath.normpath(posixpath.join(posixpath.dirname(name), plain))]
            assert target == expected, (stored, spec)
            assert target in hashed and (collected / target).is_file(), (stored, spec)
        seen[name] = found
    # The room page's entry module imports its neighbours, hashed.
    neighbours = ("delivery", "errors", "i18n", "presence", "rooms", "ui", "unread")
    neighbours += ("richtext", "reactions", "replies", "edits", "mentions")
    assert sorted(seen["chat/chat.js"]) == sorted(
        "./" + posixpath.basename(manifest[f"chat/{m}.js"]) for m in neighbours
    )


@pytest.mark.django_db
def test_room_page_links_hashed_modules(collected, manifest, client, settings, monkeypatch):
    settings.STORAGES = production_settings(monkeypatch, collected)["STORAGES"]
    settings.STATIC_ROOT = collected  # a new staticfiles_storage, which reads this manifest
    client.force_login(make_user("alice"))
    page = client.get("/chat/den/").content.decode()  # auto-created (tests/conftest.py)
    scripts = [attrs for attrs in SCRIPT.findall(page) if "src=" in attrs]
    modules = [re.search(r'src="([^"]+)"', a).group(1) for a in scripts if 'type="module"' in a]
    assert modules, page
    names = {f"/static/{stored}" for stored in manifest.values()}
    for src in modules:
        assert src in names, src  # a hashed name, as collected
    assert f"/static/{manifest['chat/chat.js']}" in modules


@pytest.mark.browser
@pytest.mark.e2e
def test_a_room_works_from_collected_files(
    collected, manifest, live_env, live_server_factory, new_page
):
    """A server as deployed (DEBUG off, STATIC_ROOT collected): the room page loads every
    module under its hashed name, cached for good, connects and shows a message sent."""
    create_user(live_env, "alice")
    server = live_server_factory({**live_env, "DEBUG": "0", "STATIC_ROOT": str(collected)})
    page = new_page()
    errors: list[str] = []
    static: dict[str, tuple[int, str]] = {}
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on(
        "response",
        lambda r: (
            urlsplit(r.url).path.startswith("/static/")
            and static.setdefault(urlsplit(r.url).path, (r.status, r.headers.get("cache-control")))
        ),
    )
    login(page, server.url, "alice")
    open_room(page, server.url, "prod")
    send(page, "served from hashed files")
    expect_message(page, "served from hashed files", user="alice")
    modules = {f"/static/{manifest[f'chat/{m}.js']}" for m in ("chat", "delivery", "i18n", "ui")}
    assert modules <= set(static), static
    hashed = {f"/static/{stored}" for stored in manifest.values()}
    assert {path for path in static if path not in hashed} == set(), static
    for path, (status, cache) in static.items():
        assert status == 200 and "immutable" in (cache or ""), (path, status, cache)
    assert errors == []
