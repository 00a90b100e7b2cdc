"""The site's pages through Django's test client: accounts, the room list, the room page."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from chat import commands, services
from chat.models import Room
from tests.support.accounts import PASSWORD, make_user

pytestmark = pytest.mark.django_db

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
        {"username": "bob", "password1": PASSWORD, "password2": PASSWORD},
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
            "password1": PASSWORD,
            "password2": PASSWORD,
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
            "password1": PASSWORD,
            "password2": PASSWORD,
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
    row = re.search(r'<li class="room-card" data-room="lobby"[^>]*>(.*?)</li>', page, re.S).group(1)
    assert 'href="/chat/lobby/"' in row and "Lobby" in row
    assert 'data-count="3">3 messages<' in row
    assert "ago</time>" in row
    quiet = re.search(r'<li class="room-card" data-room="quiet"[^>]*>(.*?)</li>', page, re.S)
    quiet = quiet.group(1)
    assert "Quiet &lt;b&gt;corner&lt;/b&gt;" in quiet
    assert "no messages yet" in quiet
    assert 'data-count="0">0 messages<' in quiet
    assert page.index('data-room="lobby"') < page.index('data-room="quiet"')  # most active first


def test_create_room_derives_the_slug_and_redirects(client_alice, alice):
    response = csrf_post(client_alice, "/", {"title": "  Design   Review "})
    assert response.status_code == 302
    assert response["Location"] == "/chat/design-review/"
    room = Room.objects.get()
    assert (room.slug, room.title, room.created_by) == ("design-review", "Design Review", alice)


def test_a_title_in_any_script_gets_a_room(client_alice):
    response = csrf_post(client_alice, "/", {"title": "設計レビュー"})
    assert response["Location"] == "/chat/room/"
    assert Room.objects.get().title == "設計レビュー"
    response = csrf_post(client_alice, "/", {"title": "設計レビュー"})
    assert response["Location"] == "/chat/room-2/"  # a distinct slug, never an IntegrityError


def test_creating_a_taken_title_makes_a_new_room(client_alice, alice):
    services.create_room(slug="lobby", user=alice)
    response = csrf_post(client_alice, "/", {"title": "Lobby"})
    assert response["Location"] == "/chat/lobby-2/"
    assert Room.objects.count() == 2


@pytest.mark.parametrize("title", ["", "   ", "a" * 101, "!!!", "...", "—", "\x00x"])
def test_create_room_bad_title_is_a_form_error(client_alice, title):
    response = csrf_post(client_alice, "/", {"title": title})
    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert Room.objects.count() == 0


def test_html_in_a_title_is_text(client_alice):
    csrf_post(client_alice, "/", {"title": "<script>alert(1)</script>"})
    page = client_alice.get("/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@override_settings(CHAT_ROOM_CREATE_BURST=3, CHAT_ROOM_CREATE_PER_HOUR=1)
def test_room_creation_is_rate_limited_per_user(client_alice, alice):
    for n in range(3):
        assert csrf_post(client_alice, "/", {"title": f"limited {n}"}).status_code == 302
    response = csrf_post(client_alice, "/", {"title": "one too many"})
    assert response.status_code == 429
    assert "created many rooms" in response.content.decode()
    assert Room.objects.count() == 3
    carol = get_user_model().objects.create_user("carol", password=PASSWORD)
    other = Client()
    other.force_login(carol)
    assert csrf_post(other, "/", {"title": "carol's"}).status_code == 302  # her own budget


def test_get_and_head_create_nothing(client_alice):
    for method in (client_alice.get, client_alice.head):
        method("/chat/made-up/")
        method("/?title=sneaky")
    assert not Room.objects.exists()


def test_the_room_list_pages_through_many_rooms(client_alice, alice, django_assert_max_num_queries):
    Room.objects.bulk_create(Room(slug=f"r{n:06d}", title=f"Room {n}") for n in range(2_000))
    with django_assert_max_num_queries(8):
        page = client_alice.get("/").content.decode()
    assert page.count('<li class="room-card" data-room=') == 50
    assert "Page 1 of 40" in page
    last = client_alice.get("/?page=40").content.decode()
    assert last.count('<li class="room-card" data-room=') == 50 and 'rel="prev"' in last
    assert client_alice.get("/?page=nonsense").status_code == 200


def _badges(page: str, where: str, slug: str) -> list[str]:
    """The badges' words (their screen-reader text) of room `slug` in the sidebar
    (where="sidebar") or among the room list's cards ("cards")."""
    part = page.split('id="room-list"')[1].split("</ul>")[0] if where == "sidebar" else page
    cls = "" if where == "sidebar" else ' class="room-card"'
    item = re.search(rf'<li{cls} data-room="{slug}"[^>]*>(.*?)</li>', part, re.S)
    assert item, f"no {slug} in the {where}"
    return re.findall(r'<span class="visually-hidden"> ([^<]+)</span>', item.group(1))


def test_unread_badges_are_rendered_with_the_page(client_alice, alice):
    """Unread counts show before any socket connects: in the sidebar and on the room list,
    never for the room on screen; the room page's config says where alice stopped reading."""
    bob = make_user("bob")
    den = services.create_room(slug="den", user=bob)
    services.create_room(slug="quiet", user=bob)
    for n in range(4):
        services.post_message(room=den, user=bob, body=f"m{n}")
    services.mark_read(room=den, user=alice, seq=1)
    page = client_alice.get("/").content.decode()
    assert _badges(page, "sidebar", "den") == ["3 unread"]
    assert _badges(page, "cards", "den") == ["3 unread"]
    assert _badges(page, "sidebar", "quiet") == [] and _badges(page, "cards", "quiet") == []
    assert 'data-room="den" data-last-seq="4" data-last-read="1" data-unread="3"' in page
    room = client_alice.get("/chat/den/").content.decode()
    assert _badges(room, "sidebar", "den") == []  # the room on screen
    assert _json_script(room, "chat-config")["last_read"] == 1
    ja = client_alice.get("/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert _badges(ja, "sidebar", "den") == ["未読 3 件"]


def test_counts_of_rooms_past_the_sidebars_list(client_alice, alice, django_assert_max_num_queries):
    """A room list page past the rooms the summaries hold reads its counts (two queries)."""
    Room.objects.bulk_create(Room(slug=f"r{n:06d}", title=f"Room {n}") for n in range(250))
    old = Room.objects.get(slug="r000000")
    Room.objects.filter(pk=old.pk).update(last_seq=2)  # as if it had two messages
    with django_assert_max_num_queries(10):
        page = client_alice.get("/?page=5").content.decode()
    assert page.count('<li class="room-card" data-room=') == 50
    assert _badges(page, "cards", "r000000") == ["2 unread"]


# --- room page --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["bad%20slug", "a" * 51, "%C3%BCmlaut", "semi;colon", "a.b"])
def test_bad_slug_is_404(client_alice, slug):
    assert client_alice.get(f"/chat/{slug}/").status_code == 404
    assert Room.objects.count() == 0


def test_unknown_room_page_shows_with_auto_create_and_creates_nothing(client_alice):
    """With CHAT_AUTO_CREATE_ROOMS on (the tutorial's behaviour) the page of an unknown room
    shows, and its socket creates the room: the GET itself creates nothing."""
    response = client_alice.get("/chat/new-room/")
    assert response.status_code == 200
    assert "New Room" in response.content.decode()
    assert not Room.objects.filter(slug="new-room").exists()


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
        "room": {
            "slug": "lobby",
            "title": "Lobby",
            "topic": "",
            "private": False,
            "dm": False,
            "locked": False,
            "slow_mode": 0,
        },
        "username": "alice",
        "ws_path": "/ws/chat/lobby/",
        "max_length": 4000,
        "is_moderator": True,  # alice created the room: its owner moderates it
        "commands": sorted(commands.REGISTRY),  # and may send every command
        "last_read": 0,  # the "new messages" divider's place, before the welcome
        "dm_with": "",  # not a direct conversation
        "may_invite": False,  # a public room has nobody to invite
        "may_set_private": True,  # its owner may make it private
        "edit_window": 3600,
        "reactions_max": 20,
        "at": None,  # no ?at=<seq>: the page opens at the newest messages
        "bots": [],  # no account is flagged as a bot
    }
    initial = _json_script(page, "chat-initial")
    assert [m["seq"] for m in initial["messages"]] == list(range(6, 56))
    assert initial["has_more"] is True
    # Static files only, no CDN; the moderation hook is included.
    assert "/static/chat/chat.js" in page and "/static/chat/moderation.js" in page
    assert "/static/chat/chat.css" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_a_private_rooms_page_knows_its_members_and_who_may_invite(client_alice, alice):
    bob = make_user("bob", PASSWORD)
    room = services.new_room(user=alice, title="Secret plans", private=True)
    services.invite(room=room, actor=alice, user="bob")
    page = client_alice.get(f"/chat/{room.slug}/").content.decode()
    config = _json_script(page, "chat-config")
    assert config["room"]["members"] == ["alice", "bob"]
    assert (config["may_invite"], config["may_set_private"]) == (True, True)
    assert 'role="img" aria-label="Private room"' in page  # the header's lock
    member = Client()
    member.force_login(bob)
    config = _json_script(member.get(f"/chat/{room.slug}/").content.decode(), "chat-config")
    assert (config["may_invite"], config["may_set_private"]) == (False, False)


def test_a_direct_conversation_is_shown_by_the_other_sides_name(client_alice, alice):
    make_user("bob", PASSWORD)
    dm = services.open_dm(user=alice, other="bob")
    page = client_alice.get(f"/chat/{dm.slug}/").content.decode()
    config = _json_script(page, "chat-config")
    assert config["dm_with"] == "bob" and config["room"]["dm"] is True
    assert (config["may_invite"], config["may_set_private"]) == (False, False)
    assert '<h1 class="room-title" id="room-title">bob</h1>' in page
    assert "<title>bob · Chat</title>" in page
    # The sidebar lists it under "Direct messages" by bob's name, not with the rooms.
    sidebar = page.split('id="dm-list"')[1].split("</ul>")[0]
    assert f'data-room="{dm.slug}"' in sidebar and ">bob</span>" in sidebar
    assert f'data-room="{dm.slug}"' not in page.split('id="room-list"')[1].split("</ul>")[0]
    # And the room list's card by bob's name too.
    index = client_alice.get("/").content.decode()
    card = index.split(f'<li class="room-card" data-room="{dm.slug}"')[1].split("</li>")[0]
    assert '<span class="room-title-text">bob</span>' in card


def test_staff_is_moderator(client_alice, alice):
    alice.is_staff = True
    alice.save()
    page = client_alice.get("/chat/lobby/").content.decode()
    assert _json_script(page, "chat-config")["is_moderator"] is True


def test_a_member_is_offered_only_member_commands(client_alice, alice):
    bob = make_user("bob", PASSWORD)
    services.create_room(slug="theirs", user=bob)
    config = _json_script(client_alice.get("/chat/theirs/").content.decode(), "chat-config")
    assert config["is_moderator"] is False
    member = ["delete", "edit", "history", "leave", "message", "open_dm", "ping", "react"]
    member += ["read", "report", "typing"]
    assert config["commands"] == member


def test_message_bodies_are_escaped_everywhere(client_alice, alice):
    room = services.create_room(slug="lobby", user=alice)
    for body in XSS:
        services.post_message(room=room, user=alice, body=body)
    page = client_alice.get("/chat/lobby/").content.decode()
    # No markup from a body survives into the page: only our own script tags exist (static
    # files and the translation catalog).
    scripts = re.findall(r"<script[^>]*>", page)
    ours = ('type="application/json"', 'src="/static/', 'src="/jsi18n/"')
    assert all(any(mark in s for mark in ours) for s in scripts), scripts
    assert "<img" not in page and "<svg" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    # The sanitized html keeps a quote in text as it is (nh3's serializer).
    assert '&lt;img src=x onerror="window.__xss = 1"&gt;' in page
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


@pytest.mark.parametrize(("at", "expected"), [("7", 7), ("0", None), ("x", None), ("²", None)])
def test_a_room_page_opens_at_a_message_asked_for(client_alice, alice, at, expected):
    services.create_room(slug="lobby", user=alice)
    page = client_alice.get("/chat/lobby/", {"at": at}).content.decode()
    assert _json_script(page, "chat-config")["at"] == expected


def test_a_bots_messages_carry_a_badge(client_alice, alice):
    room = services.create_room(slug="lobby", user=alice)
    make_user("robo", PASSWORD)
    services.set_bot(username="robo")
    robo = get_user_model().objects.get(username="robo")
    services.post_message(room=room, user=robo, body="beep")
    page = client_alice.get("/chat/lobby/").content.decode()
    assert _json_script(page, "chat-config")["bots"] == ["robo"]
    assert '<span class="msg-user">robo</span> <span class="bot-badge">bot</span>' in page
