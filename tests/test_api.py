"""The REST API as a bot meets it (docs/api.md): a token, JSON in and out, the protocol's
rules and codes, the same services (and so the same live broadcasts) as the sockets."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from chat import protocol, services
from chat.models import Message, Room
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot():
    user = make_user("robo")
    _, token = services.create_api_token(user=user, name="test")
    services.create_room(slug="lobby", user=user)
    return user, token


def call(method: str, path: str, token: str | None, body: object = None, raw: bytes | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    client = Client()
    response = getattr(client, method)(path, data=data, content_type="application/json", **headers)
    return response.status_code, (response.json() if response.content else None), response


def test_a_bot_posts_reads_edits_reacts_and_deletes(bot):
    _, token = bot
    status, stored, _ = call(
        "post", "/api/rooms/lobby/messages/", token, {"body": "**hi**", "client_id": "b-1"}
    )
    assert status == 201
    assert (stored["seq"], stored["user"], stored["body"]) == (1, "robo", "**hi**")
    assert stored["html"] == "<p><strong>hi</strong></p>" and stored["client_id"] == "b-1"
    status, again, _ = call(
        "post", "/api/rooms/lobby/messages/", token, {"body": "**hi**", "client_id": "b-1"}
    )
    assert (status, again["seq"]) == (200, 1)  # a resend: the stored one, nothing new
    assert Message.objects.count() == 1
    status, edited, _ = call("patch", "/api/rooms/lobby/messages/1/", token, {"body": "hi!"})
    assert status == 200 and edited["body"] == "hi!" and edited["edited_ts"]
    status, toggled, _ = call(
        "post", "/api/rooms/lobby/messages/1/reactions/", token, {"emoji": "👍"}
    )
    assert status == 200 and toggled["on"] is True
    assert toggled["reactions"] == [{"emoji": "👍", "users": ["robo"]}]
    status, page, _ = call("get", "/api/rooms/lobby/messages/", token)
    assert status == 200 and page["has_more"] is False
    assert page["messages"] == [protocol.message_data(Message.objects.get())]
    status, gone, _ = call("delete", "/api/rooms/lobby/messages/1/", token)
    assert (status, gone) == (200, {"seq": 1, "deleted": True})


def test_rooms_lists_what_the_token_user_can_see(bot):
    _, token = bot
    other = make_user("alice")
    secret = services.new_room(user=other, title="Secret", private=True)
    status, data, _ = call("get", "/api/rooms/", token)
    assert status == 200
    assert [r["slug"] for r in data["rooms"]] == ["lobby"]
    assert call("get", f"/api/rooms/{secret.slug}/messages/", token)[0] == 404
    assert call("get", "/api/rooms/nowhere/messages/", token)[0] == 404


def test_history_pages_follow_the_protocol(bot):
    user, token = bot
    room = Room.objects.get(slug="lobby")
    for i in range(1, 8):
        services.post_message(room=room, user=user, body=f"m{i}")
    seqs = lambda data: [m["seq"] for m in data["messages"]]  # noqa: E731
    assert seqs(call("get", "/api/rooms/lobby/messages/?limit=3", token)[1]) == [5, 6, 7]
    status, data, _ = call("get", "/api/rooms/lobby/messages/?before=5&limit=2", token)
    assert (seqs(data), data["has_more"]) == ([3, 4], True)
    status, data, _ = call("get", "/api/rooms/lobby/messages/?after=5", token)
    assert (seqs(data), data["has_more"]) == ([6, 7], False)
    for query in ("before=1&after=2", "limit=0", "limit=101", "before=-1", "limit=x"):
        status, data, _ = call("get", f"/api/rooms/lobby/messages/?{query}", token)
        assert (status, data["code"]) == (400, "bad_request"), query


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"body": ""}, 400, "empty"),
        ({"body": "x" * 4001}, 413, "too_long"),
        ({"body": 5}, 400, "bad_request"),
        ({}, 400, "bad_request"),
        ({"body": "hi", "client_id": "x" * 65}, 400, "bad_request"),
        ({"body": "hi", "reply_to": 99}, 400, "bad_request"),
        ([1, 2], 400, "bad_request"),
        ("just a string", 400, "bad_request"),
    ],
)
def test_bad_bodies_get_the_protocols_codes(bot, body, status, code):
    _, token = bot
    got, data, _ = call("post", "/api/rooms/lobby/messages/", token, body)
    assert (got, data["code"]) == (status, code)
    assert isinstance(data["detail"], str) and not Message.objects.exists()


def test_an_oversized_or_broken_body_is_refused(bot):
    _, token = bot
    status, data, _ = call("post", "/api/rooms/lobby/messages/", token, raw=b"{" * 10)
    assert (status, data["code"]) == (400, "bad_request")
    huge = json.dumps({"body": "x" * (70 * 1024)}).encode()
    status, data, _ = call("post", "/api/rooms/lobby/messages/", token, raw=huge)
    assert (status, data["code"]) == (413, "too_long")


@pytest.mark.parametrize("token", [None, "", "nonsense", "chat_" + "x" * 43, "revoked", "inactive"])
def test_without_a_valid_token_it_is_401_and_says_nothing(bot, token):
    user, good = bot
    if token == "revoked":
        row = user.chat_api_tokens.get()
        services.revoke_api_token(actor=user, token=row)
        token = good
    elif token == "inactive":
        user.is_active = False
        user.save()
        token = good
    status, data, response = call("get", "/api/rooms/", token)
    assert status == 401 and data == {
        "code": "unauthorized",
        "detail": "A valid API token is needed.",
    }
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_session_cookie_is_no_way_in(bot):
    user, _ = bot
    client = Client()
    client.force_login(user)
    assert client.get("/api/rooms/").status_code == 401


def test_the_rate_limit_is_shared_with_the_sockets(bot, settings):
    settings.CHAT_RATE_LIMIT_BURST, settings.CHAT_RATE_LIMIT_PER_SECOND = 2, 0.01
    user, token = bot
    room = Room.objects.get(slug="lobby")
    services.post_messages(room=room, user=user, posts=[protocol.Post("from a socket")])
    assert call("post", "/api/rooms/lobby/messages/", token, {"body": "one"})[0] == 201
    status, data, response = call("post", "/api/rooms/lobby/messages/", token, {"body": "two"})
    assert (status, data["code"]) == (429, "rate_limited")
    assert data["retry_after"] > 0 and int(response["Retry-After"]) >= 1


def test_a_banned_bot_is_refused_like_anyone(bot):
    user, token = bot
    owner = make_user("owner")
    room = services.create_room(slug="den", user=owner)
    services.ban_user(room=room, actor=owner, user=user)
    status, data, _ = call("post", "/api/rooms/den/messages/", token, {"body": "hi"})
    assert (status, data["code"]) == (404, "not_found")  # as the room page answers them
    assert not Message.objects.filter(room=room).exists()


def test_the_openapi_schema_is_served(bot):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert {"/api/rooms/", "/api/rooms/{slug}/messages/"} <= set(paths)
    post = paths["/api/rooms/{slug}/messages/"]["post"]
    assert "body" in json.dumps(post["requestBody"])
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
