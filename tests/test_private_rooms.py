"""Private rooms, invitations and direct conversations (docs/protocol.md, "Private rooms"):
members only, and to everyone else indistinguishable from a room that does not exist."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from chat import services
from chat.models import Invitation, Membership, Room
from tests.conftest import TIMEOUT
from tests.support.accounts import PASSWORD, make_user
from tests.test_roomlife import home_of, next_of, opened


@pytest.fixture(autouse=True)
def rooms_on_purpose(settings):
    # As on a real site: an unknown room's URL and handshake create nothing.
    settings.CHAT_AUTO_CREATE_ROOMS = False
    settings.CHAT_UNREAD_INTERVAL_SECONDS = 0.05


@database_sync_to_async
def private_room(owner, title="Design Review") -> Room:
    return services.new_room(user=owner, title=title, private=True)


async def closed_with(chat, code: int) -> None:
    while True:
        output = await chat.comm.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            assert output["code"] == code, output
            return


async def both(chat, *kinds: str) -> dict[str, dict]:
    """The next frame of each of `kinds`, in whatever order they come (an `ok` and the
    broadcast its command causes travel different paths)."""
    found: dict[str, dict] = {}
    while len(found) < len(kinds):
        frame = await chat.recv()
        if frame["type"] in kinds and frame["type"] not in found:
            found[frame["type"]] = frame
    return found


def slugs(frame: dict) -> list[str]:
    return [room["slug"] for room in frame["rooms"]]


# --- no leaks -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_private_room_looks_exactly_like_no_room_to_an_outsider():
    alice, carol = make_user("alice", PASSWORD), make_user("carol", PASSWORD)
    room = services.new_room(user=alice, title="Secret plans", private=True)
    outsider = Client()
    outsider.force_login(carol)
    secret = outsider.get(f"/chat/{room.slug}/")
    nothing = outsider.get("/chat/no-such-room/")
    assert secret.status_code == nothing.status_code == 404
    strip = re.compile(r'nonce="[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"')
    # The same page, but for the address it was asked for (the language menu's "next").
    secret_page = strip.sub("", secret.content.decode()).replace(room.slug, "ROOM")
    assert secret_page == strip.sub("", nothing.content.decode()).replace("no-such-room", "ROOM")
    listing = outsider.get("/").content.decode()
    assert room.slug not in listing and "Secret plans" not in listing
    member = Client()
    member.force_login(alice)
    assert member.get(f"/chat/{room.slug}/").status_code == 200
    assert "Secret plans" in member.get("/").content.decode()


async def test_the_handshake_refuses_an_outsider_as_for_no_room(open_chat, alice, bob):
    room = await private_room(alice)
    secret = await open_chat(bob, room.slug, expect_refused=True)
    nothing = await open_chat(bob, "no-such-room", expect_refused=True)
    assert secret is not None and nothing is not None
    member, welcome = await opened(open_chat, alice, room.slug)
    assert welcome["room"]["private"] is True and welcome["room"]["dm"] is False
    assert welcome["room"]["members"] == ["alice"]
    await member.close()


async def test_lists_counts_and_news_of_a_private_room_reach_members_only(open_chat, alice, bob):
    room = await private_room(alice)
    outsider, member = await home_of(bob), await home_of(alice)
    await services.post_message.acall(room=room, user=alice, body="just us")
    public = await database_sync_to_async(services.new_room)(user=alice, title="Open")
    listed = await next_of(outsider, "rooms")
    assert public.slug in slugs(listed) and room.slug not in slugs(listed)
    assert room.slug in slugs(await next_of(member, "rooms"))
    await outsider.send({"type": "ping"})
    frames = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(await outsider.recv())
    assert all(room.slug not in str(frame) for frame in frames)  # no unread of it either
    await outsider.close()
    await member.close()


# --- invite, remove, leave ------------------------------------------------------------------


async def test_invite_makes_a_member_at_once_and_remove_cuts_them_off(open_chat, alice, bob):
    room = await private_room(alice)
    bobs_home = await home_of(bob)
    owner, _ = await opened(open_chat, alice, room.slug)
    await owner.send({"type": "invite", "user": "bob"})
    answers = await both(owner, "ok", "room_updated")
    assert answers["ok"] == {"type": "ok", "command": "invite", "user": "bob"}
    assert answers["room_updated"]["room"]["members"] == ["alice", "bob"]
    assert room.slug in slugs(await next_of(bobs_home, "rooms"))

    b, welcome = await opened(open_chat, bob, room.slug)
    assert welcome["room"]["members"] == ["alice", "bob"]
    await owner.send({"type": "remove", "user": "bob"})
    assert (await next_of(owner, "ok"))["command"] == "remove"
    await closed_with(b, 4403)
    assert room.slug not in slugs(await next_of(bobs_home, "rooms"))
    await open_chat(bob, room.slug, expect_refused=True)
    await owner.close()
    await bobs_home.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "invite", "user": "nobody"}, "bad_request"),
        ({"type": "invite", "user": "alice"}, "bad_request"),  # a member already
        ({"type": "invite", "user": ""}, "bad_request"),
        ({"type": "remove", "user": "bob"}, "bad_request"),  # not a member
        ({"type": "remove", "user": "alice"}, "forbidden"),  # herself: not of lower rank
    ],
)
async def test_bad_invitations_and_removals_change_nothing(open_chat, alice, bob, frame, code):
    room = await private_room(alice)
    owner, _ = await opened(open_chat, alice, room.slug)
    await owner.send(frame)
    error = await next_of(owner, "error")
    assert (error["code"], error["command"]) == (code, frame["type"])
    members = await database_sync_to_async(
        lambda: sorted(
            Membership.objects.filter(room=room, joined_at__isnull=False).values_list(
                "user__username", flat=True
            )
        )
    )()
    assert members == ["alice"]
    await owner.close()


async def test_only_moderators_invite_and_public_rooms_take_no_invitations(open_chat, alice, bob):
    room = await private_room(alice)
    await services.invite.acall(room=room, actor=alice, user="bob")
    b, _ = await opened(open_chat, bob, room.slug)
    await b.send({"type": "invite", "user": "carol"})
    assert (await next_of(b, "error"))["code"] == "forbidden"  # whether carol exists or not
    await b.send({"type": "invite", "user": "nobody-at-all"})
    assert (await next_of(b, "error"))["code"] == "forbidden"
    await database_sync_to_async(services.new_room)(user=alice, title="Lobby two")
    lobby, _ = await opened(open_chat, alice, "lobby-two")
    await lobby.send({"type": "invite", "user": "bob"})
    assert (await next_of(lobby, "error"))["code"] == "bad_request"
    await b.close()
    await lobby.close()


async def test_a_member_may_leave(open_chat, alice, bob):
    room = await private_room(alice)
    await services.invite.acall(room=room, actor=alice, user="bob")
    b, _ = await opened(open_chat, bob, room.slug)
    other_tab, _ = await opened(open_chat, bob, room.slug)
    await b.send({"type": "leave"})
    # Her sockets in the room close (4403), this one too (before or after its `ok`).
    await closed_with(b, 4403)
    await closed_with(other_tab, 4403)
    await open_chat(bob, room.slug, expect_refused=True)


async def test_an_owner_who_leaves_hands_the_room_to_its_moderator_else_its_oldest_member(
    open_chat, alice, bob
):
    """A private room whose owner left would have nobody to invite or moderate: it passes
    to the member who moderates it (else the longest-standing member), whose open page
    hears it at once; the leaver is out like any member."""
    room = await private_room(alice)
    carol = await database_sync_to_async(make_user)("carol", PASSWORD)
    await database_sync_to_async(make_user)("dave", PASSWORD)
    for name in ("bob", "carol", "dave"):
        await services.invite.acall(room=room, actor=alice, user=name)
    await services.set_role.acall(room=room, actor=alice, user="carol", role="moderator")
    c, _ = await opened(open_chat, carol, room.slug)
    a, _ = await opened(open_chat, alice, room.slug)
    await a.send({"type": "leave"})
    await closed_with(a, 4403)
    standing = await next_of(c, "standing")
    assert (standing["room"], standing["moderator"]) == (room.slug, True)
    fresh = await database_sync_to_async(Room.objects.select_related("created_by").get)(pk=room.pk)
    assert fresh.created_by.username == "carol"
    await open_chat(alice, room.slug, expect_refused=True)
    # The new owner leaves too: no moderator is left, so the oldest member, bob, has it.
    await c.send({"type": "leave"})
    await closed_with(c, 4403)
    fresh = await database_sync_to_async(Room.objects.select_related("created_by").get)(pk=room.pk)
    assert fresh.created_by.username == "bob"
    b, welcome = await opened(open_chat, bob, room.slug)
    assert welcome["moderator"] is True
    await b.send({"type": "invite", "user": "alice"})  # an owner's power, now his
    assert (await next_of(b, "ok"))["command"] == "invite"


async def test_making_a_room_private_closes_outsiders_and_keeps_its_moderators(
    open_chat, alice, bob
):
    room = await database_sync_to_async(services.new_room)(user=alice, title="Den")
    b, _ = await opened(open_chat, bob, room.slug)
    owner, _ = await opened(open_chat, alice, room.slug)
    await b.send({"type": "room_settings", "private": True})
    assert (await next_of(b, "error"))["code"] == "forbidden"  # the owner's alone
    await owner.send({"type": "room_settings", "private": True})
    assert (await next_of(owner, "ok"))["room"]["private"] is True
    await closed_with(b, 4403)
    await owner.send({"type": "ping"})
    assert (await next_of(owner, "pong"))["type"] == "pong"  # hers stays open
    await open_chat(bob, room.slug, expect_refused=True)
    await owner.send({"type": "invite", "user": "bob"})  # her socket opened when it was public
    assert (await both(owner, "ok"))["ok"]["command"] == "invite"
    b, _ = await opened(open_chat, bob, room.slug)
    await owner.close()
    await b.close()


# --- direct conversations -------------------------------------------------------------------


async def test_one_direct_conversation_per_pair_in_both_lists_and_nobody_elses(
    open_chat, alice, bob
):
    carol = await database_sync_to_async(make_user)("carol")
    alices, bobs = await home_of(alice), await home_of(bob)
    await alices.send({"type": "open_dm", "user": "bob"})
    answers = await both(alices, "ok", "rooms")
    slug = answers["ok"]["room"]
    for listed, other in ((answers["rooms"], "bob"), (await next_of(bobs, "rooms"), "alice")):
        [summary] = [r for r in listed["rooms"] if r["slug"] == slug]
        assert (summary["dm"], summary["private"], summary["with"]) == (True, True, other)
    await bobs.send({"type": "open_dm", "user": "alice"})
    assert (await next_of(bobs, "ok", command="open_dm"))["room"] == slug  # the same one

    await open_chat(carol, slug, expect_refused=True)
    dm, welcome = await opened(open_chat, alice, slug)
    assert welcome["room"]["dm"] is True and welcome["room"]["members"] == ["alice", "bob"]
    assert "moderator" not in welcome  # nobody owns a conversation of two
    await dm.send({"type": "ban", "user": "bob"})
    assert (await next_of(dm, "error"))["code"] == "forbidden"
    await dm.send({"type": "invite", "user": "carol"})
    assert (await next_of(dm, "error"))["code"] in ("bad_request", "forbidden")
    await dm.send({"type": "leave"})
    assert (await next_of(dm, "error"))["code"] == "bad_request"

    await dm.send({"type": "message", "body": "just between us"})
    note = await next_of(bobs, "notification")
    assert (note["kind"], note["room"], note["message"]["body"]) == (
        "dm",
        slug,
        "just between us",
    )
    await alices.send({"type": "open_dm", "user": "alice"})
    assert (await next_of(alices, "error"))["code"] == "bad_request"
    await alices.send({"type": "open_dm", "user": "nobody"})
    assert (await next_of(alices, "error"))["code"] == "bad_request"
    for chat in (alices, bobs, dm):
        await chat.close()


# --- invitation links ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_invitation_link_joins_once_and_a_bad_one_joins_nobody():
    alice, bob = make_user("alice", PASSWORD), make_user("bob", PASSWORD)
    room = services.new_room(user=alice, title="Design Review", private=True)
    invitation, token = services.create_invitation(room=room, actor=alice, hours=2)
    assert room.slug not in token  # the link names the invitation, never the room
    guest = Client()
    guest.force_login(bob)
    page = guest.get(f"/invite/{token}/")
    assert page.status_code == 200 and "Design Review" in page.content.decode()
    assert not Membership.objects.filter(user=bob, joined_at__isnull=False).exists()  # a GET
    assert guest.post(f"/invite/{token}/").url == f"/chat/{room.slug}/"
    assert guest.get(f"/chat/{room.slug}/").status_code == 200

    carol = make_user("carol", PASSWORD)
    other = Client()
    other.force_login(carol)
    for bad in (token[:-2] + "xx", "not-a-token"):
        response = other.post(f"/invite/{bad}/")
        assert response.status_code == 404 and "not valid" in response.content.decode()
    services.revoke_invitation(room=room, actor=alice, invitation_id=invitation.pk)
    assert other.post(f"/invite/{token}/").status_code == 404
    _, fresh = services.create_invitation(room=room, actor=alice, hours=1)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert other.post(f"/invite/{fresh}/").status_code == 404
    assert not Membership.objects.filter(user=carol, joined_at__isnull=False).exists()


async def test_invitation_links_from_the_socket(open_chat, alice, bob):
    room = await private_room(alice)
    owner, _ = await opened(open_chat, alice, room.slug)
    await owner.send({"type": "create_invitation", "hours": 24})
    made = await next_of(owner, "ok", command="create_invitation")
    assert made["url"].startswith("/invite/") and made["expires"]
    await owner.send({"type": "revoke_invitation", "id": made["id"]})
    assert (await next_of(owner, "ok", command="revoke_invitation"))["id"] == made["id"]
    await owner.send({"type": "create_invitation", "hours": 0})
    assert (await next_of(owner, "error"))["code"] == "bad_request"
    await services.invite.acall(room=room, actor=alice, user="bob")
    b, _ = await opened(open_chat, bob, room.slug)
    await b.send({"type": "create_invitation"})
    assert (await next_of(b, "error"))["code"] == "forbidden"
    await owner.close()
    await b.close()


@pytest.mark.django_db(transaction=True)
def test_the_room_form_makes_a_private_room():
    alice = make_user("alice", PASSWORD)
    client = Client()
    client.force_login(alice)
    response = client.post("/", {"title": "設計レビュー", "private": "on"})
    room = Room.objects.get(title="設計レビュー")
    assert response.url == f"/chat/{room.slug}/" and room.private
    assert Membership.objects.get(room=room).joined_at is not None
