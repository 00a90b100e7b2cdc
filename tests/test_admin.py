"""The Django admin as a moderator uses it (the test client posting the admin's own forms),
while chat sockets are open: every action takes effect live, through the services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat import services
from chat.models import AuditLog, Membership, Message, Report, Room
from tests.support.accounts import make_user
from tests.test_moderation_consumer import closed_with, stored_bodies

pytestmark = pytest.mark.django_db(transaction=True)


def staff_client(username: str = "moderator", **flags: bool) -> tuple[Client, object]:
    user = make_user(username, is_staff=True, **flags)
    client = Client()
    client.force_login(user)
    return client, user


@database_sync_to_async
def post(client: Client, url: str, data: dict) -> str:
    """Post an admin form (following the redirect back to the list); return the page."""
    response = client.post(url, data, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@database_sync_to_async
def get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@database_sync_to_async
def room_with_messages(*bodies: str, slug: str = "den"):
    owner, bob, carol = make_user("owner"), make_user("bob"), make_user("carol")
    room = services.create_room(slug=slug, user=owner)
    for body in bodies:
        services.post_message(room=room, user=bob, body=body)
    return SimpleNamespace(room=room, owner=owner, bob=bob, carol=carol)


def message_pks(slug: str, *seqs: int) -> list[str]:
    return [
        str(pk)
        for pk in Message.objects.filter(room__slug=slug, seq__in=seqs).values_list("pk", flat=True)
    ]


async def test_admin_delete_reaches_open_rooms_live_and_stays_deleted(open_chat):
    t = await room_with_messages("fine", "rude words", "fine too")
    client, staff = await database_sync_to_async(staff_client)()
    b, c = await open_chat(t.bob, "den"), await open_chat(t.carol, "den")
    for chat in (b, c):
        assert len((await chat.recv_type("welcome"))["messages"]) == 3

    selected = await database_sync_to_async(message_pks)("den", 2)
    page = await post(
        client,
        "/admin/chat/message/",
        {"action": "delete_messages", "_selected_action": selected},
    )
    assert "Deleted: 1." in page
    for chat in (b, c):
        assert await chat.recv_type("message_deleted") == {"type": "message_deleted", "seq": 2}
    assert await stored_bodies("den") == ["fine", "", "fine too"]

    again = await open_chat(t.carol, "den")
    welcome = await again.recv_type("welcome")
    assert [(m["seq"], m["body"], m["deleted"]) for m in welcome["messages"]] == [
        (1, "fine", False),
        (2, "", True),
        (3, "fine too", False),
    ]
    entry = await database_sync_to_async(AuditLog.objects.get)(action="delete")
    assert (entry.actor_id, entry.target_user_id, entry.message_seq) == (staff.pk, t.bob.pk, 2)


async def test_admin_ban_closes_the_socket_refuses_the_reconnect_and_is_logged(open_chat):
    t = await room_with_messages("hi")
    # The user list needs Django's auth permissions (it shows every account): a superuser.
    client, staff = await database_sync_to_async(staff_client)("root", is_superuser=True)
    b, c = await open_chat(t.bob, "den"), await open_chat(t.carol, "den")
    for chat in (b, c):
        await chat.recv_type("welcome")

    form = {"action": "ban_users", "_selected_action": [str(t.bob.pk)]}
    page = await post(client, "/admin/auth/user/", form)
    assert 'name="reason"' in page and 'name="room"' in page  # the form
    assert await b.nothing()

    form.update({"apply": "Ban", "room": "den", "minutes": "", "reason": "spamming links"})
    page = await post(client, "/admin/auth/user/", form)
    assert "Banned: 1." in page
    await closed_with(b, 4403)
    assert await c.nothing()
    await open_chat(t.bob, "den", expect_refused=True)

    page = await get(client, "/admin/chat/auditlog/")
    assert "spamming links" in page and ">ban<" in page and ">bob<" in page
    entry = await database_sync_to_async(AuditLog.objects.get)(action="ban")
    assert (entry.actor_id, entry.target_user_id) == (staff.pk, t.bob.pk)


async def test_admin_mute_and_kick_from_the_message_list(open_chat):
    t = await room_with_messages("one")
    client, _ = await database_sync_to_async(staff_client)()
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")
    selected = await database_sync_to_async(message_pks)("den", 1)
    form = {"action": "mute_users", "_selected_action": selected, "apply": "Mute"}
    page = await post(client, "/admin/chat/message/", {**form, "minutes": "30"})
    assert "Muted: 1." in page
    assert (await b.recv_type("standing"))["muted_until"] is not None  # his page knows at once
    await b.send("still here?")
    error = await b.recv_type("error")
    assert (error["code"], "muted" in error["detail"]) == ("forbidden", True)

    form.update({"action": "kick_users", "apply": "Kick", "reason": "take a break"})
    page = await post(client, "/admin/chat/message/", form)
    assert "Kicked: 1." in page
    await closed_with(b, 4403)
    back = await open_chat(t.bob, "den")  # a kick is not a ban
    await back.recv_type("welcome")
    assert await stored_bodies("den") == ["one"]


async def test_admin_lock_and_slow_mode_reach_the_room(open_chat):
    t = await room_with_messages()
    client, _ = await database_sync_to_async(staff_client)()
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")
    pk = str(t.room.pk)

    page = await post(
        client, "/admin/chat/room/", {"action": "lock_rooms", "_selected_action": [pk]}
    )
    assert "Locked: 1." in page
    assert (await b.recv_type("room_updated"))["room"]["locked"] is True
    await b.send("anyone?")
    assert (await b.recv_type("error"))["code"] == "forbidden"

    await post(client, "/admin/chat/room/", {"action": "unlock_rooms", "_selected_action": [pk]})
    assert (await b.recv_type("room_updated"))["room"]["locked"] is False

    form = {"action": "set_slow_mode", "_selected_action": [pk]}
    page = await post(client, "/admin/chat/room/", form)
    assert 'name="seconds"' in page
    await post(client, "/admin/chat/room/", {**form, "apply": "Set", "seconds": "20"})
    assert (await b.recv_type("room_updated"))["room"]["slow_mode"] == 20
    await b.send("first")
    await b.recv_type("message")
    await b.send("second")
    assert (await b.recv_type("error"))["code"] == "rate_limited"
    assert await stored_bodies("den") == ["first"]
    actions = await database_sync_to_async(
        lambda: list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    )()
    assert actions == ["lock", "unlock", "slow_mode"]


async def test_admin_retitle_and_topic_reach_the_room(open_chat):
    t = await room_with_messages()
    client, _ = await database_sync_to_async(staff_client)("root", is_superuser=True)
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")
    await post(
        client, f"/admin/chat/room/{t.room.pk}/change/", {"title": "The Den", "_save": "Save"}
    )
    assert (await b.recv_type("room_updated"))["room"]["title"] == "The Den"
    form = {"title": "The Den", "topic": "Where the owls meet", "_save": "Save"}
    await post(client, f"/admin/chat/room/{t.room.pk}/change/", form)
    assert (await b.recv_type("room_updated"))["room"]["topic"] == "Where the owls meet"


async def test_report_queue_resolve_and_delete(open_chat):
    t = await room_with_messages("meh", "awful")

    @database_sync_to_async
    def report(seq: int, reason: str) -> Report:
        return services.report_message(room=t.room, reporter=t.carol, seq=seq, reason=reason)

    first, second = await report(1, "boring"), await report(2, "abusive")
    client, _ = await database_sync_to_async(staff_client)()
    b = await open_chat(t.bob, "den")
    await b.recv_type("welcome")

    page = await get(client, "/admin/chat/report/?status=open")
    assert "abusive" in page and "boring" in page and "awful" in page

    await post(
        client, "/admin/chat/report/", {"action": "resolve", "_selected_action": [str(first.pk)]}
    )
    assert await b.nothing()
    form = {"action": "delete_and_resolve", "_selected_action": [str(second.pk)]}
    page = await post(client, "/admin/chat/report/", form)
    assert "Deleted and resolved: 1." in page
    assert (await b.recv_type("message_deleted"))["seq"] == 2
    page = await get(client, "/admin/chat/report/?status=open")
    assert "abusive" not in page and "boring" not in page
    # The report keeps the evidence though the message is blanked.
    page = await get(client, "/admin/chat/report/?status=resolved")
    assert "awful" in page
    assert await stored_bodies("den") == ["meh", ""]


async def test_admin_deactivation_closes_every_socket(open_chat):
    t = await room_with_messages()
    client, _ = await database_sync_to_async(staff_client)("root", is_superuser=True)
    b1, b2 = await open_chat(t.bob, "den"), await open_chat(t.bob, "lobby")
    for chat in (b1, b2):
        await chat.recv_type("welcome")
    page = await post(
        client,
        "/admin/auth/user/",
        {"action": "deactivate_users", "_selected_action": [str(t.bob.pk)]},
    )
    assert "Deactivated: 1." in page
    await closed_with(b1, 4403)
    await closed_with(b2, 4403)
    await open_chat(t.bob, "den", expect_refused=True)


def test_lists_search_and_filters(db):
    owner, bob = make_user("owner"), make_user("bob")
    den = services.create_room(slug="den", user=owner)
    attic = services.create_room(slug="attic", user=owner)
    services.post_message(room=den, user=bob, body="needle in the den")
    services.post_message(room=attic, user=owner, body="hay in the attic")
    client, _ = staff_client()  # staff without model permissions: staff moderate everywhere

    def page(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, url
        return response.content.decode()

    assert "needle in the den" in page("/admin/chat/message/?q=needle")
    assert "hay in the attic" not in page("/admin/chat/message/?q=needle")
    assert "needle in the den" not in page("/admin/chat/message/?q=owner")  # by author
    assert "hay in the attic" in page("/admin/chat/message/?q=attic")  # by room
    assert "hay in the attic" not in page(f"/admin/chat/message/?room__id__exact={den.pk}")
    assert "needle" in page("/admin/chat/message/?created_at__gte=2000-01-01T00:00:00%2B00:00")
    rooms = page("/admin/chat/room/?q=att")
    assert "attic" in rooms and ">den<" not in rooms
    for url in ("/admin/chat/auditlog/", "/admin/chat/membership/", "/admin/chat/report/"):
        page(url)


def test_audit_log_and_messages_are_read_only(db):
    owner = make_user("owner")
    room = services.create_room(slug="den", user=owner)
    services.post_message(room=room, user=owner, body="hello")
    services.update_room(room=room, actor=owner, locked=True)
    entry = AuditLog.objects.get()
    client, _ = staff_client("root", is_superuser=True)
    assert client.get("/admin/chat/auditlog/add/").status_code == 403
    response = client.post(f"/admin/chat/auditlog/{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    page = client.get(f"/admin/chat/auditlog/{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    message = Message.objects.get()
    page = client.get(f"/admin/chat/message/{message.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert AuditLog.objects.count() == 1
    assert Room.objects.get().locked is True


def test_non_staff_cannot_reach_the_admin(db):
    client = Client()
    client.force_login(make_user("bob"))
    response = client.get("/admin/chat/message/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


async def test_admin_room_delete_closes_its_sockets_with_4404(open_chat):
    t = await room_with_messages("bye")
    client, _ = await database_sync_to_async(staff_client)("root", is_superuser=True)
    b, elsewhere = await open_chat(t.bob, "den"), await open_chat(t.bob, "lobby")
    for chat in (b, elsewhere):
        await chat.recv_type("welcome")
    await post(client, f"/admin/chat/room/{t.room.pk}/delete/", {"post": "yes"})
    await closed_with(b, 4404)
    assert await elsewhere.nothing()
    assert not await database_sync_to_async(Room.objects.filter(slug="den").exists)()
    entry = await database_sync_to_async(AuditLog.objects.get)(action="delete_room")
    assert entry.detail == "den"


async def test_admin_invites_into_and_removes_from_a_private_room(open_chat):
    t = await room_with_messages()
    client, root = await database_sync_to_async(staff_client)("root", is_superuser=True)
    await services.set_private.acall(room=t.room, actor=root, private=True)
    form = {"action": "invite_user", "_selected_action": [str(t.room.pk)]}
    page = await post(client, "/admin/chat/room/", form)
    assert "username" in page  # the intermediate form
    await post(client, "/admin/chat/room/", {**form, "apply": "1", "username": "bob"})
    b = await open_chat(t.bob, "den")
    welcome = await b.recv_type("welcome")
    assert "bob" in welcome["room"]["members"]
    member = await database_sync_to_async(
        lambda: Membership.objects.get(room=t.room, user=t.bob).pk
    )()
    form = {"action": "remove_members", "_selected_action": [str(member)]}
    await post(client, "/admin/chat/membership/", form)
    output = await b.comm.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await b.comm.receive_output(timeout=5)
    assert output["code"] == 4403


async def test_a_moderator_reads_an_edited_messages_previous_versions():
    t = await room_with_messages("frist!")
    edit = services.edit_message.acall
    await edit(room=t.room, user=t.bob, seq=1, body="first!")
    await edit(room=t.room, user=t.bob, seq=1, body="first, and something rude")
    await services.toggle_reaction.acall(room=t.room, user=t.carol, seq=1, emoji="👀")
    client, _ = await database_sync_to_async(staff_client)()
    [pk] = await database_sync_to_async(message_pks)("den", 1)
    listing = await get(client, "/admin/chat/message/")
    assert "first, and something rude" in listing
    page = await get(client, f"/admin/chat/message/{pk}/change/")
    assert "previous versions (edit history)" in page.lower()
    assert page.index("frist!") < page.index("first!")  # oldest first
    assert "👀" in page and "carol" in page
