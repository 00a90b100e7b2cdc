"""The API tokens page (/settings/tokens/): a user makes a token (shown once), sees each
one's name, start, last use and expiry, and revokes it; nobody else's."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chat.models import ApiToken
from chat.services import tokens
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_token_is_made_shown_once_listed_and_revoked():
    alice = make_user("alice")
    client = logged_in(alice)
    response = client.post("/settings/tokens/", {"name": "deploy bot", "days": "30"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    [token] = re.findall(r'<code class="token-value" id="new-token">(chat_[\w-]+)</code>', page)
    found = tokens.user_for(token)
    assert found is not None and found[0] == alice
    row = ApiToken.objects.get()
    assert row.expires_at is not None and row.name == "deploy bot"
    again = client.get("/settings/tokens/").content.decode()
    assert token not in again  # shown once
    assert "deploy bot" in again and f"chat_{row.prefix}…" in again
    assert client.post(f"/settings/tokens/{row.pk}/revoke/").status_code == 302
    assert tokens.user_for(token) is None
    assert "revoked" in client.get("/settings/tokens/").content.decode()


def test_nobody_revokes_or_sees_anothers_token():
    alice, mallory = make_user("alice"), make_user("mallory")
    logged_in(alice).post("/settings/tokens/", {"name": "mine"})
    row = ApiToken.objects.get()
    client = logged_in(mallory)
    assert "mine" not in client.get("/settings/tokens/").content.decode()
    assert client.post(f"/settings/tokens/{row.pk}/revoke/").status_code == 404
    assert client.get(f"/settings/tokens/{row.pk}/revoke/").status_code == 405
    row.refresh_from_db()
    assert row.revoked_at is None


@pytest.mark.parametrize("data", [{"name": ""}, {"name": "x" * 101}, {"name": "a", "days": "0"}])
def test_a_bad_form_says_what_is_wrong(data):
    client = logged_in(make_user("alice"))
    response = client.post("/settings/tokens/", data)
    assert response.status_code == 400 and 'class="errorlist"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_page_needs_a_login():
    assert Client().get("/settings/tokens/").status_code == 302
