"""The site's pages through Django's test client: accounts, the room list, the room page."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from chat import services
from chat.models import Room
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"
XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 1">',
    "<svg onload=window.__xss=1>",
    "javascript:alert(1)",
    "</script><script>window.__xss=1</script>",
]


@pytest.fixture
def alice():
    return make_user("alice", PASSWORD)


@pytest.fixture
def client_alice(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def csrf_post(client: Client, url: str, data: dict, **kwargs):
    """POST like a browser: fetch the form first for its CSRF token."""
    page = client.get(kwargs.pop("form_url", url))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token, "the form has no CSRF token"
    return client.post(url, {**data, "csrfmiddlewaretoken": token.group(1)}, **kwargs)


# --- accounts ---------------------------------------------------------------------------


def test_signup_creates_account_and_logs_in():
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client,
        "/accounts/signup/",
        {"username": "bob", "password1": "s3cret-Passw0rd!", "password2": "s3cret-Passw0rd!"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"].get_username() == "bob"
    assert "Rooms" in response.content.decode()


def test_signup_returns_to_next():
    client = Client(enforce_csrf_checks=True)
    response = csrf_post(
        client,
        "/accounts/signup/",
        {
            "username": "bob",
            "password1": "s3cret-Passw0rd!",
            "password2": "s3cret-Passw0rd!",
            "next": "/chat/lobby/",
        },
        form_url="/accounts/signup/?next=/chat/lobby/",
    )
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby/"


def test_signup_refuses_foreign_next():
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "bob",
            "password1": "s3cret-Passw0rd!",
            "password2": "s3cret-Passw0rd!",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


def test_signup_errors_are_shown(alice):
    client = Client()
    response = client.post(
        "/accounts/signup/", {"username": "alice", "password1": "x", "password2": "y"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "A user with that username already exists." in page
    assert "The two password fields didn" in page


def test_login_redirects_back_to_next(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.get("/chat/lobby/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/chat/lobby/"
    response = csrf_post(
        client,
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "next": "/chat/lobby/"},
        form_url=response["Location"],
    )
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby/"
    assert client.get("/chat/lobby/").status_code == 200


def test_login_page_links_to_signup():
    page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in page


def test_wrong_password_shows_error(alice):
    response = Client().post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.parametrize("url", ["/", "/chat/lobby/", "/chat/bad%20slug/"])
def test_every_page_requires_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_logout_is_a_post_form(client_alice):
    page = client_alice.get("/").content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"', page)
    response = csrf_post(client_alice, "/accounts/logout/", {}, form_url="/")
    assert response.status_code == 302
    assert client_alice.get("/").status_code == 302  # logged out


def test_csrf_is_enforced(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


# --- room list --------------------------------------------------------------------------


def test_room_list_shows_title_activity_and_count(client_alice, alice):
    lobby = services.create_room(slug="lobby", user=alice)
    services.create_room(slug="quiet", user=alice, title="Quiet <b>corner</b>")
    for n in range(3):
        services.post_message(room=lobby, user=alice, body=f"m{n}")
    page = client_alice.get("/").content.decode()
    row = re.search(r'<tr data-room="lobby">(.*?)</tr>', page, re.S).group(1)
    assert 'href="/chat/lobby/"' in row and "Lobby" in row
    assert re.search(r'<td class="num">3</td>', row)
    assert "ago</time>" in row
    quiet = re.search(r'<tr data-room="quiet">(.*?)</tr>', page, re.S).group(1)
    assert "Quiet &lt;b&gt;corner&lt;/b&gt;" in quiet
    assert "no messages yet" in quiet
    assert re.search(r'<td class="num">0</td>', quiet)
    assert page.index('data-room="lobby"') < page.index('data-room="quiet"')  # most active first


def test_create_room_lowercases_and_redirects(client_alice):
    response = csrf_post(client_alice, "/", {"name": "My-Room_2"})
    assert response.status_code == 302
    assert response["Location"] == "/chat/my-room_2/"
    room = Room.objects.get()
    assert room.slug == "my-room_2"


def test_create_existing_room_opens_it(client_alice, alice):
    services.create_room(slug="lobby", user=alice)
    response = csrf_post(client_alice, "/", {"name": "LOBBY"})
    assert response["Location"] == "/chat/lobby/"
    assert Room.objects.count() == 1


@pytest.mark.parametrize(
    "name", ["", "   ", "has space", "ümlaut", "a" * 51, "semi;colon", "../x", "<script>"]
)
def test_create_room_bad_name_is_a_form_error(client_alice, name):
    response = csrf_post(client_alice, "/", {"name": name})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errorlist"' in page
    assert "<script>" not in page.split("<body", 1)[1].replace("<script src=", "")
    assert Room.objects.count() == 0


# --- room page --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["bad%20slug", "a" * 51, "%C3%BCmlaut", "semi;colon", "a.b"])
def test_bad_slug_is_404(client_alice, slug):
    assert client_alice.get(f"/chat/{slug}/").status_code == 404
    assert Room.objects.count() == 0


def test_unknown_room_is_created_on_visit(client_alice, alice):
    response = client_alice.get("/chat/new-room/")
    assert response.status_code == 200
    room = Room.objects.get(slug="new-room")
    assert room.created_by == alice


def test_room_url_is_case_insensitive(client_alice):
    response = client_alice.get("/chat/Lobby/")
    assert response.status_code == 302
    assert response["Location"] == "/chat/lobby/"


@override_settings(CHAT_AUTO_CREATE_ROOMS=False)
def test_unknown_room_is_404_without_auto_create(client_alice, alice):
    assert client_alice.get("/chat/nowhere/").status_code == 404
    assert not Room.objects.exists()
    services.create_room(slug="somewhere", user=alice)
    assert client_alice.get("/chat/somewhere/").status_code == 200


def _json_script(page: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def test_room_page_renders_latest_50_and_config(client_alice, alice):
    room = services.create_room(slug="lobby", user=alice)
    for n in range(1, 56):
        services.post_message(room=room, user=alice, body=f"message {n}")
    page = client_alice.get("/chat/lobby/").content.decode()
    seqs = [int(s) for s in re.findall(r'<li class="msg[^"]*" data-seq="(\d+)"', page)]
    assert seqs == list(range(6, 56))
    assert "message 55" in page and ">message 5<" not in page
    config = _json_script(page, "chat-config")
    assert config == {
        "room": {"slug": "lobby", "title": "Lobby", "locked": False, "slow_mode": 0},
        "username": "alice",
        "ws_path": "/ws/chat/lobby/",
        "max_length": 4000,
        "is_moderator": True,  # alice created the room: its owner moderates it
    }
    initial = _json_script(page, "chat-initial")
    assert [m["seq"] for m in initial["messages"]] == list(range(6, 56))
    assert initial["has_more"] is True
    # Static files only, no CDN; the moderation hook is included.
    assert "/static/chat/chat.js" in page and "/static/chat/moderation.js" in page
    assert "/static/chat/chat.css" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_staff_is_moderator(client_alice, alice):
    alice.is_staff = True
    alice.save()
    page = client_alice.get("/chat/lobby/").content.decode()
    assert _json_script(page, "chat-config")["is_moderator"] is True


def test_message_bodies_are_escaped_everywhere(client_alice, alice):
    room = services.create_room(slug="lobby", user=alice)
    for body in XSS:
        services.post_message(room=room, user=alice, body=body)
    page = client_alice.get("/chat/lobby/").content.decode()
    # No markup from a body survives into the page: only our own script tags exist.
    scripts = re.findall(r"<script[^>]*>", page)
    assert all('type="application/json"' in s or 'src="/static/' in s for s in scripts), scripts
    assert "<img" not in page and "<svg" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;window.__xss = 1&quot;&gt;" in page
    # The json_script data decodes back to the exact bodies.
    bodies = [m["body"] for m in _json_script(page, "chat-initial")["messages"]]
    assert bodies == XSS


def test_room_title_is_escaped(client_alice, alice):
    services.create_room(slug="x", user=alice, title="<img src=x onerror=alert(1)>")
    page = client_alice.get("/chat/x/").content.decode()
    assert "<img" not in page
    assert _json_script(page, "chat-config")["room"]["title"] == "<img src=x onerror=alert(1)>"


def test_room_page_shows_deleted_message_without_body(client_alice, alice):
    from django.utils import timezone

    from chat.models import Message

    room = services.create_room(slug="lobby", user=alice)
    services.post_message(room=room, user=alice, body="secret words")
    Message.objects.filter(room=room, seq=1).update(deleted_at=timezone.now())
    page = client_alice.get(reverse("chat:room", kwargs={"room": "lobby"})).content.decode()
    assert "secret words" not in page
    assert "This message was deleted." in page
