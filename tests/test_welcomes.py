"""A room's joins are welcomed in batches (chat.fanout admits them together; a room of
thousands reconnects at once after a deploy): one read for the batch, and still each
socket's own welcome, as a socket welcomed alone would get it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import selectors, services
from chat.models import Room
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


def test_each_user_in_a_batch_gets_their_own_welcome_from_one_read():
    owner, mod, banned, reader, newcomer = (
        make_user(name) for name in ("owner", "mod", "banned", "reader", "newcomer")
    )
    room = services.create_room(slug="den", user=owner)
    for body in ("one", "two", "three"):
        services.post_message(room=room, user=owner, body=body)
    services.set_role(room=room, actor=owner, user=mod, role="moderator")
    services.ban_user(room=room, actor=owner, user=banned)
    services.mark_read(room=room, user=reader, seq=2)
    asks = [(mod, None), (banned, None), (reader, 1), (newcomer, None), (owner, 1)]
    found = selectors.welcomes(room, asks)
    mod_w, banned_w, reader_w, newcomer_w, owner_w = found
    assert banned_w is None
    assert (mod_w.moderator, reader_w.moderator, newcomer_w.moderator, owner_w.moderator) == (
        True,
        False,
        False,
        True,
    )
    assert (reader_w.last_read, newcomer_w.last_read) == (2, 0)
    assert [m.body for m in newcomer_w.messages] == ["one", "two", "three"]
    assert [m.body for m in reader_w.messages] == ["two", "three"]  # resumed after 1
    assert {w.last_seq for w in (mod_w, reader_w, newcomer_w)} == {3}
    # As each would be welcomed alone, but for the reads all of them share.
    for (user, since), welcome in zip(asks, found, strict=True):
        assert selectors.welcome(Room.objects.get(pk=room.pk), user, since) == welcome
    # The reads do not grow with the batch: four sockets cost what one costs.
    with CaptureQueriesContext(connection) as one:
        selectors.welcomes(room, [(newcomer, None)])
    with CaptureQueriesContext(connection) as four:
        selectors.welcomes(room, [(user, None) for user in (mod, reader, newcomer, owner)])
    assert len(four) == len(one)


def test_a_room_made_private_after_the_handshakes_welcomes_only_its_members():
    owner, outsider = make_user("owner"), make_user("outsider")
    room = services.create_room(slug="den", user=owner)
    stale = Room.objects.get(pk=room.pk)  # as the handshakes loaded it: public
    services.set_private(room=room, actor=owner, private=True)
    owner_w, outsider_w = selectors.welcomes(stale, [(owner, None), (outsider, None)])
    assert outsider_w is None
    assert owner_w.room.private and owner_w.members == ["owner"]


def test_a_welcome_built_from_shared_parts_is_the_welcome_built_alone():
    """The parts a batch shares are encoded once and spliced in: the frame must be exactly
    what encoding it whole gives, whatever the room's title or the bodies hold."""
    import json

    from chat import protocol

    owner = make_user("owner")
    room = services.create_room(slug="den", user=owner)
    room.title = 'a "messages":[] and "present":[] title'
    for body in ('"present":[]', '"messages":[] ]}', "plain"):
        services.post_message(room=room, user=owner, body=body)
    page = list(room.messages.order_by("seq"))
    shared = protocol.WelcomeParts(["owner", "zed", "amy"])
    text = protocol.welcome_frame(
        room=room, username="owner", last_seq=3, messages=page, has_more=False, shared=shared
    )
    whole = {
        "type": "welcome",
        "room": protocol.room_data(room, None),
        "user": "owner",
        "last_seq": 3,
        "messages": [protocol.message_data(m) for m in page],
        "has_more": False,
        "present": ["amy", "owner", "zed"],
        "last_read": 0,
    }
    frame = json.loads(text)
    assert text == protocol.encode(whole)
    assert frame["room"]["title"] == room.title
    assert frame["present"] == ["amy", "owner", "zed"]
    assert [m["body"] for m in frame["messages"]] == ['"present":[]', '"messages":[] ]}', "plain"]


@pytest.mark.django_db(transaction=True)
async def test_a_welcome_the_database_cannot_read_closes_with_try_again(
    open_chat, alice, monkeypatch
):
    """The welcomes of a batch are one read: when it fails (the database is away), every
    socket of the batch is told to try again later (1013), never a 1011 or a traceback,
    and the next join, with the database back, is welcomed."""
    from django.db import OperationalError

    from chat import fanout as fanout_module

    def failing(room, asks):
        raise OperationalError("the database is away")

    monkeypatch.setattr(fanout_module.get_fanout(), "read_welcomes", failing)
    chat = await open_chat(alice)
    closed = await chat.comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 1013}
    monkeypatch.undo()
    again = await open_chat(alice)
    assert (await again.recv_type("welcome"))["user"] == "alice"
