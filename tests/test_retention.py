"""Retention and the operator commands: `purge_messages` keeps seqs and resume right, and
`export_room` writes the transcript (docs/search.md)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from chat import protocol, selectors, services
from chat.errors import Forbidden
from chat.models import AuditLog, Mention, Message, ReadMarker, Room
from tests.support.accounts import make_user


def aged(room: Room, upto: int, days: int) -> None:
    """Make messages seq <= upto of `room` `days` old."""
    Message.objects.filter(room=room, seq__lte=upto).update(
        created_at=timezone.now() - timedelta(days=days)
    )


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_messages", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def room_with(n: int, slug: str = "lobby", user=None) -> tuple[Room, object]:
    user = user or make_user("alice")
    room = services.create_room(slug=slug, user=user)
    for i in range(n):
        services.post_message(room=room, user=user, body=f"message {i + 1}")
    return room, user


@pytest.mark.django_db
def test_old_messages_go_and_seqs_are_never_reused(settings):
    settings.CHAT_RETENTION_DAYS = 30
    room, alice = room_with(10)
    aged(room, 6, days=31)
    assert "Would purge 6 messages in 1 rooms" in purge("--dry-run")
    assert Message.objects.filter(room=room).count() == 10  # a dry run changes nothing
    out = purge("--batch", "4")  # two batches
    assert "Purged 6 messages." in out
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True)) == [
        7,
        8,
        9,
        10,
    ]
    room.refresh_from_db()
    assert (room.purged_upto, room.last_seq) == (6, 10)
    assert services.post_message(room=room, user=alice, body="next").message.seq == 11
    entry = AuditLog.objects.get(action="purge")
    assert (entry.room, entry.message_seq) == (room, 6)
    assert "6 messages" in entry.detail and "30 days" in entry.reason
    assert purge() == "Nothing to purge.\n"  # nothing newer is old enough


@pytest.mark.django_db
def test_a_rooms_own_retention_wins(settings):
    settings.CHAT_RETENTION_DAYS = None
    keep, alice = room_with(3, "keep")
    short, _ = room_with(3, "short", user=alice)
    forever, _ = room_with(3, "forever", user=alice)
    Room.objects.filter(pk=short.pk).update(retention_days=1)
    Room.objects.filter(pk=forever.pk).update(retention_days=0)
    for room in (keep, short, forever):
        aged(room, 3, days=400)
    purge()
    counts = {r.slug: r.messages.count() for r in Room.objects.all()}
    assert counts == {"keep": 3, "short": 0, "forever": 3}  # retention off by default
    purge("--days", "365")
    counts = {r.slug: r.messages.count() for r in Room.objects.all()}
    assert counts == {"keep": 0, "short": 0, "forever": 3}


@pytest.mark.django_db
def test_counts_and_mentions_follow_a_purge(settings):
    settings.CHAT_RETENTION_DAYS = 7
    alice, bob = make_user("alice"), make_user("bob")
    room = services.create_room(slug="lobby", user=alice)
    for body in ("@bob old", "old two", "old three", "new @bob", "new two"):
        services.post_message(room=room, user=alice, body=body)
    services.delete_message(room=room, actor=alice, seq=2)
    carol = make_user("carol")  # no marker: reads nothing, posted nothing
    aged(room, 3, days=8)
    purge()
    room.refresh_from_db()
    assert room.deleted_count == 0  # the deleted one went with the rest
    [(_, bob_counts)] = [s for s in selectors.room_summaries(bob) if s[0].slug == "lobby"]
    assert (bob_counts.unread, bob_counts.mentions) == (2, 1)
    [(_, carol_counts)] = [s for s in selectors.room_summaries(carol) if s[0].slug == "lobby"]
    assert carol_counts.unread == 2
    assert list(Mention.objects.values_list("seq", flat=True)) == [4]
    assert ReadMarker.objects.get(user=bob, room=room).mentions == 1


@pytest.mark.django_db(transaction=True)
async def test_a_resume_from_below_the_purged_range_starts_at_the_first_kept(open_chat, settings):
    settings.CHAT_RETENTION_DAYS = 1
    room, alice = await database_sync_to_async(room_with)(8)
    await database_sync_to_async(aged)(room, 5, days=2)
    await database_sync_to_async(purge)()
    for since, first, has_more in ((2, 6, False), (5, 6, False), (0, 6, False), (6, 7, True)):
        chat = await open_chat(alice, "lobby", since=since)
        welcome = await chat.recv_type("welcome")
        assert welcome["messages"][0]["seq"] == first, since
        assert welcome["has_more"] is has_more, since
        await chat.send({"type": "history", "before": 7, "limit": 50})
        page = await chat.recv_type("history")
        assert [m["seq"] for m in page["messages"]] == [6] and page["has_more"] is False
        await chat.close()


@pytest.mark.django_db
def test_export_room_writes_the_transcript_to_standard_output():
    room, alice = room_with(3)
    services.toggle_reaction(room=room, user=alice, seq=2, emoji="👍")
    out, err = io.StringIO(), io.StringIO()
    call_command("export_room", "lobby", stdout=out, stderr=err)
    data = json.loads(out.getvalue())
    rows = Message.objects.filter(room=room).order_by("seq").select_related("author")
    assert data["messages"] == [protocol.message_data(m) for m in rows]
    out = io.StringIO()
    call_command("export_room", "LOBBY", "--format", "text", stdout=out, stderr=err)
    assert out.getvalue().splitlines()[2].endswith("#2 alice: message 2")
    with pytest.raises(CommandError, match="no room"):
        call_command("export_room", "nowhere", stdout=out, stderr=err)


@pytest.mark.django_db
def test_staff_set_a_rooms_retention_in_the_admin_and_it_is_audited():
    room, alice = room_with(1)
    staff = make_user("operator", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/chat/room/{room.pk}/change/").content.decode()
    assert 'name="retention_days"' in page
    form = {"title": room.title, "topic": "", "retention_days": "90"}
    response = client.post(f"/admin/chat/room/{room.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    room.refresh_from_db()
    assert room.retention_days == 90
    assert AuditLog.objects.get(action="retention").detail == "keep 90 days"
    with pytest.raises(Forbidden):
        services.set_retention(room=room, actor=alice, days=1)  # the owner is not staff
