"""API tokens: made by `manage.py create_api_token`, they open a WebSocket with
`Authorization: Bearer <token>` (no cookie, no Origin), and nothing else does (issue #17's
first part; docs/protocol.md "API tokens")."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from chat import services
from chat.errors import Forbidden
from chat.models import ApiToken, Profile
from tests.conftest import Chat
from tests.support.accounts import make_user
from tests.test_hardening import _closed_with


def create_token(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip().splitlines()[-1]


async def token_chat(token: str | None, room: str = "lobby", **headers: str) -> Chat:
    from chatsite.asgi import application

    sent = [(b"host", b"localhost")]
    if token is not None:
        sent.append((b"authorization", f"Bearer {token}".encode()))
    sent += [(k.encode(), v.encode()) for k, v in headers.items()]
    return Chat(WebsocketCommunicator(application, f"/ws/chat/{room}/", headers=sent))


@pytest.mark.django_db
def test_the_command_prints_a_token_on_its_last_line_and_flags_bots():
    make_user("robo")
    token = create_token("robo", "--name", "deploy bot", "--bot")
    assert token.startswith("chat_") and len(token) > 40
    row = ApiToken.objects.get()
    assert (row.name, row.user.username, row.prefix) == ("deploy bot", "robo", token[5:13])
    assert token not in (row.digest, row.prefix)  # only its hash is kept
    assert Profile.objects.get(user=row.user).bot is True
    with pytest.raises(CommandError, match="no user"):
        create_token("nobody")


@pytest.fixture
async def robo(transactional_db):
    user = await database_sync_to_async(make_user)("robo")
    await database_sync_to_async(services.create_room)(slug="lobby", user=user)
    return user


async def test_a_token_opens_a_socket_without_cookie_or_origin(robo):
    token = await database_sync_to_async(create_token)("robo")
    chat = await token_chat(token)
    assert (await chat.connect())[0]
    welcome = await chat.recv_type("welcome")
    assert welcome["user"] == "robo"
    await chat.send("Hello, world!")  # the seed's client, grown up
    message = (await chat.recv_type("message"))["message"]
    assert (message["user"], message["body"]) == ("robo", "Hello, world!")
    row = await database_sync_to_async(ApiToken.objects.get)()
    assert row.last_used_at is not None
    await chat.close()


@pytest.mark.parametrize(
    "case", ["malformed", "unknown", "revoked", "expired", "deactivated", "empty", "basic"]
)
async def test_a_bad_token_is_refused_at_the_handshake(robo, case):
    token = await database_sync_to_async(create_token)("robo")
    row = await database_sync_to_async(ApiToken.objects.get)()
    headers: dict[str, str] = {}
    if case == "malformed":
        token = "not-a-token"
    elif case == "unknown":
        token = "chat_" + "x" * 43
    elif case == "revoked":
        await services.revoke_api_token.acall(actor=robo, token=row)
    elif case == "expired":
        await database_sync_to_async(ApiToken.objects.update)(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif case == "deactivated":
        robo.is_active = False
        await database_sync_to_async(robo.save)()
    elif case == "empty":
        token = ""
    elif case == "basic":
        token, headers = None, {"authorization": "Basic cm9ibzpwdw=="}
    chat = await token_chat(token, **headers)
    connected, _ = await chat.connect()
    assert not connected


async def test_a_browser_style_handshake_without_a_token_needs_its_origin(robo):
    chat = await token_chat(None)  # no cookie, no token, no Origin
    assert not (await chat.connect())[0]
    chat = await token_chat(None, origin="http://evil.example")
    assert not (await chat.connect())[0]


async def test_revoking_a_token_closes_its_sockets(robo, settings):
    settings.CHAT_FANOUT_REFRESH_SECONDS = 0.2
    token = await database_sync_to_async(create_token)("robo")
    chat = await token_chat(token)
    assert (await chat.connect())[0]
    await chat.recv_type("welcome")
    row = await database_sync_to_async(ApiToken.objects.get)()
    await services.revoke_api_token.acall(actor=robo, token=row)
    await _closed_with(chat, 4403)


async def test_only_the_owner_or_staff_revoke_a_token(robo):
    other = await database_sync_to_async(make_user)("mallory")
    await database_sync_to_async(create_token)("robo")
    row = await database_sync_to_async(ApiToken.objects.get)()
    with pytest.raises(Forbidden):
        await services.revoke_api_token.acall(actor=other, token=row)
    staff = await database_sync_to_async(make_user)("ops", is_staff=True)
    await services.revoke_api_token.acall(actor=staff, token=row)


async def test_a_valid_tokens_socket_outlives_the_session_checks(robo, settings):
    settings.CHAT_FANOUT_REFRESH_SECONDS = 0.1  # it has no session to outlive
    token = await database_sync_to_async(create_token)("robo")
    chat = await token_chat(token)
    assert (await chat.connect())[0]
    await chat.recv_type("welcome")
    assert await chat.nothing(0.6)  # several checks later: no close
    await chat.send({"type": "ping"})
    assert (await chat.recv_type("pong"))["type"] == "pong"
    await chat.close()


@pytest.mark.django_db
def test_staff_revoke_tokens_in_the_admin():
    from django.test import Client

    make_user("robo")
    token = create_token("robo", "--name", "ci")
    staff = make_user("ops", is_staff=True)
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/chat/apitoken/").content.decode()
    assert "ci" in page and token not in page  # the token itself is nowhere
    row = ApiToken.objects.get()
    client.post("/admin/chat/apitoken/", {"action": "revoke_tokens", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is not None
