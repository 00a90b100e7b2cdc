"""Moderation through the WebSocket protocol (WebsocketCommunicator over the full ASGI app):
deletes, bans, kicks, mutes, locks, slow mode, the rate limit and reports, each checked the
way a user would see it: the frames that arrive, the socket that closes, what is stored."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chat import services
from chat.models import AuditLog, Membership, Message, Report, Room
from tests.conftest import ROOM_LIFE, TIMEOUT
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def setup_room(slug: str = "den"):
    """A room owned by `owner`, with `mod` as its moderator and `bob`, `carol` as members."""
    owner, mod, bob, carol = (make_user(n) for n in ("owner", "mod", "bob", "carol"))
    room = services.create_room(slug=slug, user=owner)
    services.set_role(room=room, actor=owner, user=mod, role="moderator")
    return SimpleNamespace(room=room, owner=owner, mod=mod, bob=bob, carol=carol)


@database_sync_to_async
def stored_bodies(slug: str) -> list[str]:
    return list(
        Message.objects.filter(room__slug=slug).order_by("seq").values_list("body", flat=True)
    )


async def recv_all(chat, *kinds: str) -> dict[str, dict]:
    """The next len(kinds) frames, one of each kind, in any order: a command's `ok` answer
    and the broadcast it caused travel different paths (the broadcast through the layer)."""
    frames = [await chat.recv() for _ in kinds]
    got = {frame["type"]: frame for frame in frames}
    assert sorted(got) == sorted(kinds), frames
    return got


async def closed_with(chat, code: int) -> None:
    """The server closes `chat`'s socket with `code` (within the timeout)."""
    output = await chat.comm.receive_output(timeout=TIMEOUT)
    while output["type"] == "websocket.send" and json.loads(output["text"])["type"] in ROOM_LIFE:
        output = await chat.comm.receive_output(timeout=TIMEOUT)  # someone came or went
    assert output == {"type": "websocket.close", "code": code}, output


async def test_moderator_delete_reaches_everyone_and_stays_deleted(open_chat):
    t = await setup_room()
    b, c, m = [await open_chat(u, "den") for u in (t.bob, t.carol, t.mod)]
    for chat in (b, c, m):
        await chat.recv_type("welcome")
    await b.send({"type": "message", "body": "something rude"})
    for chat in (b, c, m):
        assert (await chat.recv_type("message"))["message"]["seq"] == 1

    await m.send({"type": "delete", "seq": 1, "reason": "rude"})
    for chat in (b, c):
        assert await chat.recv_type("message_deleted") == {"type": "message_deleted", "seq": 1}
    got = await recv_all(m, "message_deleted", "ok")
    assert got["message_deleted"] == {"type": "message_deleted", "seq": 1}
    assert got["ok"] == {"type": "ok", "command": "delete", "seq": 1}
    assert await stored_bodies("den") == [""]

    again = await open_chat(t.carol, "den")
    welcome = await again.recv_type("welcome")
    [message] = welcome["messages"]
    assert (message["seq"], message["body"], message["deleted"]) == (1, "", True)
    entry = await database_sync_to_async(AuditLog.objects.get)(action="delete")
    assert (entry.actor_id, entry.target_user_id, entry.message_seq, entry.reason) == (
        t.mod.pk,
        t.bob.pk,
        1,
        "rude",
    )


async def test_author_may_delete_own_message_but_not_others(open_chat):
    t = await setup_room()
    b, c = await open_chat(t.bob, "den"), await open_chat(t.carol, "den")
    for chat in (b, c):
        await chat.recv_type("welcome")
    await b.send("mine")
    for chat in (b, c):
        await chat.recv_type("message")

    await c.send({"type": "delete", "seq": 1})
    error = await c.recv_type("error")
    assert error["code"] == "forbidden"
    assert await b.nothing()
    assert await stored_bodies("den") == ["mine"]

    await b.send({"type": "delete", "seq": 1})
    assert (await c.recv_type("message_deleted"))["seq"] == 1
    assert (await recv_all(b, "message_deleted", "ok"))["message_deleted"]["seq"] == 1
    await b.send({"type": "delete", "seq": 7})
    error = await b.recv_type("error")
    assert (error["code"], error["command"]) == ("bad_request", "delete")


async def test_ban_closes_the_socket_and_refuses_the_reconnect(open_chat):
    t = await setup_room()
    b = await open_chat(t.bob, "den")
    elsewhere = await open_chat(t.bob, "lobby")
    m = await open_chat(t.mod, "den")
    for chat in (b, elsewhere, m):
        await chat.recv_type("welcome")

    await m.send({"type": "ban", "user": "bob", "reason": "spam"})
    await closed_with(b, 4403)
    assert await m.recv_type("ok") == {"type": "ok", "command": "ban", "user": "bob"}
    await open_chat(t.bob, "den", expect_refused=True)
    # Only that room: bob's socket in another room stays open and works.
    await elsewhere.send({"type": "ping"})
    await elsewhere.recv_type("pong")
    entry = await database_sync_to_async(AuditLog.objects.get)(action="ban")
    assert (entry.actor_id, entry.target_user_id, entry.reason, entry.detail) == (
        t.mod.pk,
        t.bob.pk,
        "spam",
        "permanent",
    )

    await m.send({"type": "unban", "user": "bob"})
    await m.recv_type("ok")
    back = await open_chat(t.bob, "den")
    await back.recv_type("welcome")


async def test_kick_closes_the_socket_but_the_user_may_return(open_chat):
    t = await setup_room()
    b, m = await open_chat(t.bob, "den"), await open_chat(t.mod, "den")
    for chat in (b, m):
        await chat.recv_type("welcome")
    await m.send({"type": "kick", "user": "bob", "reason": "cool down"})
    await closed_with(b, 4403)
    back = await open_chat(t.bob, "den")
    await back.recv_type("welcome")


async def test_members_cannot_moderate_and_moderators_cannot_touch_the_owner(open_chat):
    t = await setup_room()
    b, m, o = [await open_chat(u, "den") for u in (t.bob, t.mod, t.owner)]
    for chat in (b, m, o):
        await chat.recv_type("welcome")
    for frame in (
        {"type": "ban", "user": "carol"},
        {"type": "mute", "user": "carol"},
        {"type": "kick", "user": "carol"},
        {"type": "room_settings", "locked": True},
    ):
        await b.send(frame)
        assert (await b.recv_type("error"))["code"] == "forbidden"
    await m.send({"type": "ban", "user": "owner"})
    assert (await m.recv_type("error"))["code"] == "forbidden"
    await m.send({"type": "ban", "user": "nobody-by-that-name"})
    assert (await m.recv_type("error"))["code"] == "bad_request"
    assert await o.nothing()
    assert await database_sync_to_async(AuditLog.objects.filter(action="ban").count)() == 0


async def test_welcome_says_who_may_moderate(open_chat):
    t = await setup_room()
    staff = await database_sync_to_async(make_user)("staffer", is_staff=True)
    for user, expected in ((t.owner, True), (t.mod, True), (staff, True), (t.bob, False)):
        chat = await open_chat(user, "den")
        welcome = await chat.recv_type("welcome")
        assert welcome.get("moderator", False) is expected, user
        assert welcome["room"]["locked"] is False


async def test_muted_user_is_refused_and_nothing_is_stored(open_chat):
    t = await setup_room()
    b, m = await open_chat(t.bob, "den"), await open_chat(t.mod, "den")
    for chat in (b, m):
        await chat.recv_type("welcome")
    await m.send({"type": "mute", "user": "bob", "minutes": 5, "reason": "calm down"})
    assert (await m.recv_type("ok"))["command"] == "mute"
    # Bob's open page hears it at once, before he tries to post.
    standing = await b.recv_type("standing")
    assert (standing["room"], standing["moderator"]) == ("den", False)
    until = await database_sync_to_async(lambda: Membership.objects.get(user=t.bob).muted_until)()
    assert standing["muted_until"] == until.isoformat(timespec="microseconds")

    await b.send({"type": "message", "body": "let me talk", "client_id": "c1"})
    error = await b.recv_type("error")
    assert error["code"] == "forbidden"
    assert "muted" in error["detail"]
    assert error["client_id"] == "c1"
    assert await m.nothing()
    assert await stored_bodies("den") == []

    await m.send({"type": "unmute", "user": "bob"})
    await m.recv_type("ok")
    assert (await b.recv_type("standing"))["muted_until"] is None
    await b.send("thanks")
    assert (await b.recv_type("message"))["message"]["body"] == "thanks"


async def test_a_mute_or_role_change_by_the_services_reaches_every_socket_of_the_user(open_chat):
    """The services, which the admin and the API call as the socket commands do: a mute
    and a promotion reach each of the user's sockets (two tabs of the room, and one of
    another room, which ignores what is not its room's) as `standing`."""
    t = await setup_room()
    await database_sync_to_async(services.create_room)(slug="other", user=t.bob)
    tabs = [await open_chat(t.bob, "den"), await open_chat(t.bob, "den")]
    elsewhere = await open_chat(t.bob, "other")
    for chat in (*tabs, elsewhere):
        await chat.recv_type("welcome")
    await services.mute_user.acall(room=t.room, actor=t.owner, user=t.bob, minutes=5)
    await services.set_role.acall(room=t.room, actor=t.owner, user="bob", role="moderator")
    for chat in (*tabs, elsewhere):
        muted, promoted = await chat.recv_type("standing"), await chat.recv_type("standing")
        assert muted["room"] == promoted["room"] == "den"
        assert (muted["moderator"], muted["muted_until"] is not None) == (False, True)
        assert promoted["moderator"] is True
    # What a page opened now is told, the open ones were told.
    welcome = await (await open_chat(t.bob, "den")).recv_type("welcome")
    assert (welcome["moderator"], welcome["muted_until"]) == (True, promoted["muted_until"])


async def test_locked_room_takes_posts_from_moderators_only(open_chat):
    t = await setup_room()
    b, m = await open_chat(t.bob, "den"), await open_chat(t.mod, "den")
    for chat in (b, m):
        await chat.recv_type("welcome")
    await m.send({"type": "room_settings", "locked": True})
    assert (await b.recv_type("room_updated"))["room"]["locked"] is True
    got = await recv_all(m, "room_updated", "ok")
    assert got["room_updated"]["room"]["locked"] is got["ok"]["room"]["locked"] is True

    await b.send("hello?")
    error = await b.recv_type("error")
    assert (error["code"], "locked" in error["detail"]) == ("forbidden", True)
    await m.send("announcement")
    for chat in (b, m):
        assert (await chat.recv_type("message"))["message"]["body"] == "announcement"
    assert await stored_bodies("den") == ["announcement"]


async def test_slow_mode_spaces_posts_but_not_moderators(open_chat):
    t = await setup_room()
    b, m = await open_chat(t.bob, "den"), await open_chat(t.mod, "den")
    for chat in (b, m):
        await chat.recv_type("welcome")
    await m.send({"type": "room_settings", "slow_mode": 30})
    assert (await b.recv_type("room_updated"))["room"]["slow_mode"] == 30
    assert (await recv_all(m, "room_updated", "ok"))["room_updated"]["room"]["slow_mode"] == 30

    await b.send("first")
    for chat in (b, m):
        await chat.recv_type("message")
    await b.send({"type": "message", "body": "second", "client_id": "s2"})
    error = await b.recv_type("error")
    assert error["code"] == "rate_limited"
    assert 25 < error["retry_after"] <= 30
    assert error["client_id"] == "s2"
    for body in ("mod one", "mod two"):
        await m.send(body)
        for chat in (b, m):
            assert (await chat.recv_type("message"))["message"]["body"] == body
    assert await stored_bodies("den") == ["first", "mod one", "mod two"]


async def test_rate_limit_refuses_a_burst_and_stores_nothing_more(open_chat, settings):
    settings.CHAT_RATE_LIMIT_BURST = 3
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.5
    bob = await database_sync_to_async(make_user)("bob")
    b = await open_chat(bob, "lobby")
    await b.recv_type("welcome")
    for n in range(3):
        await b.send(f"m{n}")
        await b.recv_type("message")
    await b.send({"type": "message", "body": "one too many", "client_id": "x"})
    error = await b.recv_type("error")
    assert (error["code"], error["client_id"]) == ("rate_limited", "x")
    assert 0 < error["retry_after"] <= 2
    assert await stored_bodies("lobby") == ["m0", "m1", "m2"]


async def test_report_is_queued_once(open_chat):
    t = await setup_room()
    b, c = await open_chat(t.bob, "den"), await open_chat(t.carol, "den")
    for chat in (b, c):
        await chat.recv_type("welcome")
    await b.send("offensive")
    for chat in (b, c):
        await chat.recv_type("message")
    await c.send({"type": "report", "seq": 1, "reason": "insulting"})
    assert await c.recv_type("ok") == {"type": "ok", "command": "report", "seq": 1}
    await c.send({"type": "report", "seq": 1, "reason": "still insulting"})
    await c.recv_type("ok")
    await c.send({"type": "report", "seq": 1})
    assert (await c.recv_type("error"))["code"] == "bad_request"
    assert await b.nothing()
    reports = await database_sync_to_async(
        lambda: list(Report.objects.values_list("reporter__username", "reason", "body"))
    )()
    assert reports == [("carol", "insulting", "offensive")]


async def test_logout_and_deactivation_close_all_the_users_sockets(open_chat):
    t = await setup_room()
    b1, b2, c = (
        await open_chat(t.bob, "den"),
        await open_chat(t.bob, "lobby"),
        await open_chat(t.carol),
    )
    for chat in (b1, b2, c):
        await chat.recv_type("welcome")

    @database_sync_to_async
    def log_out_in_another_tab() -> None:
        client = Client()
        client.force_login(t.bob)
        client.post("/accounts/logout/")

    await log_out_in_another_tab()
    await closed_with(b1, 4403)
    await closed_with(b2, 4403)
    assert await c.nothing()

    c2 = await open_chat(t.carol, "den")
    await c2.recv_type("welcome")

    @database_sync_to_async
    def deactivate_carol() -> None:
        t.carol.is_active = False
        t.carol.save()

    await deactivate_carol()
    await closed_with(c, 4403)
    await closed_with(c2, 4403)
    await open_chat(t.carol, "den", expect_refused=True)


async def test_room_settings_persist_for_new_sockets(open_chat):
    t = await setup_room()
    o = await open_chat(t.owner, "den")
    await o.recv_type("welcome")
    await o.send({"type": "room_settings", "locked": True, "slow_mode": 5})
    await recv_all(o, "room_updated", "ok")
    fresh = await database_sync_to_async(Room.objects.get)(slug="den")
    assert (fresh.locked, fresh.slow_mode_seconds) == (True, 5)
    b = await open_chat(t.bob, "den")
    welcome = await b.recv_type("welcome")
    assert (welcome["room"]["locked"], welcome["room"]["slow_mode"]) == (True, 5)


async def test_a_ban_that_lands_during_the_handshake_is_caught_at_the_welcome(open_chat):
    """The handshake checks bans before subscribing; the welcome checks again after, so a
    ban committed in between (whose close event this socket could not hear yet) still
    shuts it out."""
    from chat import selectors

    t = await setup_room()

    @database_sync_to_async
    def welcome_after_ban():
        services.ban_user(room=t.room, actor=t.owner, user=t.bob)
        return selectors.welcome(t.room, t.bob, None)

    assert await welcome_after_ban() is None


async def test_a_resume_hears_of_deletions_made_while_away(open_chat):
    t = await setup_room()
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")
    for body in ("one", "two", "three"):
        await b.send(body)
        await b.recv_type("message")
    await b.close()

    @database_sync_to_async
    def delete_while_away() -> None:
        services.delete_message(room=t.room, actor=t.mod, seq=2)

    await delete_while_away()
    back = await open_chat(t.bob, "den", since=3)
    welcome = await back.recv_type("welcome")
    assert (welcome["messages"], welcome["last_seq"]) == ([], 3)
    assert await back.recv_type("message_deleted") == {"type": "message_deleted", "seq": 2}
    assert await back.nothing()
    # Live frames still come in seq order after it.
    await back.send("four")
    assert (await back.recv_type("message"))["message"]["seq"] == 4


@database_sync_to_async
def set_staff(user, is_staff: bool) -> None:
    """Change the flag in the database only: the socket keeps its handshake's user object."""
    get_user_model().objects.filter(pk=user.pk).update(is_staff=is_staff)


@database_sync_to_async
def restrictions(slug: str, username: str) -> tuple[bool, bool]:
    """(banned, muted) now."""
    member = Membership.objects.filter(room__slug=slug, user__username=username).first()
    now = timezone.now()
    return (
        member is not None and member.is_banned(now),
        member is not None and member.is_muted(now),
    )


async def test_a_socket_loses_staff_powers_when_the_flag_is_removed(open_chat):
    t = await setup_room()
    staff = await database_sync_to_async(make_user)("staffer", is_staff=True)
    s = await open_chat(staff, "den")
    assert (await s.recv_type("welcome"))["moderator"] is True

    await set_staff(staff, False)
    await s.send({"type": "ban", "user": "owner", "reason": "takeover"})
    error = await s.recv_type("error")
    assert (error["code"], error["command"]) == ("forbidden", "ban")
    await s.send({"type": "room_settings", "locked": True})
    error = await s.recv_type("error")
    assert (error["code"], error["command"]) == ("forbidden", "room_settings")
    assert await restrictions("den", "owner") == (False, False)
    assert (await database_sync_to_async(Room.objects.get)(slug="den")).locked is False
    assert await database_sync_to_async(AuditLog.objects.exclude(action="role").count)() == 0
    o = await open_chat(t.owner, "den")  # the owner is not banned
    await o.recv_type("welcome")


async def test_a_socket_gains_staff_powers_when_the_flag_is_set(open_chat):
    t = await setup_room()
    b = await open_chat(t.bob, "den")
    assert (await b.recv_type("welcome")).get("moderator", False) is False
    await b.send({"type": "room_settings", "locked": True})
    assert (await b.recv_type("error"))["code"] == "forbidden"

    await set_staff(t.bob, True)
    await b.send({"type": "room_settings", "locked": True})
    assert (await recv_all(b, "room_updated", "ok"))["ok"]["room"]["locked"] is True
    await b.send({"type": "mute", "user": "owner", "minutes": 5})
    assert await b.recv_type("ok") == {"type": "ok", "command": "mute", "user": "owner"}
    assert await restrictions("den", "owner") == (False, True)


async def test_a_member_is_refused_alike_whether_the_name_exists_or_not(open_chat):
    t = await setup_room()
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")
    for action in ("ban", "unban", "mute", "unmute", "kick"):
        answers = []
        for name in ("carol", "no-such-user"):
            await b.send({"type": action, "user": name})
            answers.append(await b.recv_type("error"))
        assert answers[0] == answers[1], answers
        assert answers[0]["code"] == "forbidden"


async def test_the_owner_cannot_lift_a_staff_ban_or_mute(open_chat):
    t = await setup_room()
    staff = await database_sync_to_async(make_user)("staffer", is_staff=True)
    s, o, m, banned = [await open_chat(u, "den") for u in (staff, t.owner, t.mod, t.bob)]
    for chat in (s, o, m, banned):
        await chat.recv_type("welcome")

    await s.send({"type": "ban", "user": "bob", "reason": "raid"})
    assert (await s.recv_type("ok"))["command"] == "ban"
    # The close reaches the fan-out after the `ok`, through the layer: wait for it, or it
    # could land on the socket bob opens after the unban below.
    await closed_with(banned, 4403)
    for chat in (o, m):
        await chat.send({"type": "unban", "user": "bob"})
        error = await chat.recv_type("error")
        assert (error["code"], error["command"], error["detail"]) == (
            "forbidden",
            "unban",
            "Staff imposed this ban; only staff can lift it.",
        )
    await open_chat(t.bob, "den", expect_refused=True)
    assert await restrictions("den", "bob") == (True, False)
    await s.send({"type": "unban", "user": "bob"})
    await s.recv_type("ok")
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")

    await s.send({"type": "mute", "user": "bob", "minutes": 30})
    await s.recv_type("ok")
    await b.recv_type("standing")
    await o.send({"type": "unmute", "user": "bob"})
    error = await o.recv_type("error")
    assert (error["code"], error["detail"]) == (
        "forbidden",
        "Staff imposed this mute; only staff can lift it.",
    )
    await b.send("may I?")
    assert "muted" in (await b.recv_type("error"))["detail"]
    await s.send({"type": "unmute", "user": "bob"})
    await s.recv_type("ok")
    assert (await b.recv_type("standing"))["muted_until"] is None  # only staff's unmute
    await b.send("thanks")
    assert (await b.recv_type("message"))["message"]["body"] == "thanks"


async def test_a_moderator_cannot_lift_the_owners_ban(open_chat):
    t = await setup_room()
    o, m = await open_chat(t.owner, "den"), await open_chat(t.mod, "den")
    for chat in (o, m):
        await chat.recv_type("welcome")
    await o.send({"type": "ban", "user": "bob"})
    await o.recv_type("ok")
    await m.send({"type": "unban", "user": "bob"})
    error = await m.recv_type("error")
    assert (error["code"], error["detail"]) == (
        "forbidden",
        "The room's owner imposed this ban; only the owner or staff can lift it.",
    )
    assert await restrictions("den", "bob") == (True, False)
    await o.send({"type": "unban", "user": "bob"})
    await o.recv_type("ok")
    assert await restrictions("den", "bob") == (False, False)
