"""English and Japanese (issue 12): every string has a Japanese translation, the compiled
.mo files match their .po sources (so the README's run command needs no compile step),
and the pages, the scripts' catalog and the language switcher answer in the language asked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale" / "ja" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")


def _msgfmt():
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("GNU gettext (msgfmt) is required under CI=true (tests/run.sh installs it)")
        pytest.skip("GNU gettext (msgfmt) is not installed")
    return msgfmt


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_is_translated_and_the_mo_is_current(domain, tmp_path):
    msgfmt = _msgfmt()
    po, mo = LOCALE / f"{domain}.po", LOCALE / f"{domain}.mo"
    out = tmp_path / f"{domain}.mo"
    done = subprocess.run(
        [msgfmt, "--check-format", "--statistics", "-o", str(out), str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = done.stderr
    assert "untranslated" not in stats and "fuzzy" not in stats, stats
    assert out.read_bytes() == mo.read_bytes(), f"{mo} is stale: run compilemessages"


def test_pages_follow_accept_language(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="ja">' in page and "ログイン" in page
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in page and "Log in" in page


def test_the_scripts_catalog_is_japanese(client):
    connected = json.dumps("接続済み")[1:-1]  # "connected", as the catalog's JSON spells it
    catalog = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert connected in catalog or "接続済み" in catalog
    english = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert connected not in english and "接続済み" not in english


def test_the_language_switcher_sticks(client):
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ja">' in page
