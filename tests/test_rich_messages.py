"""Rich messages over real sockets (WebsocketCommunicator) and through the services: edits,
reactions, replies, formatted bodies, @mentions that count and notify, and a resume that
carries what changed (docs/protocol.md, "Rich messages")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import services
from chat.models import Mention, Message, MessageEdit, ReadMarker, Room
from tests.support.accounts import make_user
from tests.test_roomlife import counts_of, home_of, next_of


@pytest.fixture(autouse=True)
def quick_counts(settings):
    settings.CHAT_UNREAD_INTERVAL_SECONDS = 0.05
    settings.CHAT_PRESENCE_GRACE_SECONDS = 0.1


@pytest.fixture
async def carol(transactional_db):
    return await database_sync_to_async(make_user)("carol")


@pytest.fixture
async def staff(transactional_db):
    return await database_sync_to_async(make_user)("mod", is_staff=True)


async def welcomed(open_chat, user, room="lobby", **kw):
    chat = await open_chat(user, room, **kw)
    return chat, await chat.recv_type("welcome")


async def posted(chat, body, **extra):
    """Post `body` and return the stored message (frames of earlier changes read past)."""
    await chat.send({"type": "message", "body": body, **extra})
    while True:
        frame = await chat.recv()
        assert frame["type"] != "error", frame
        if frame["type"] == "message" and frame["message"]["body"] == body.strip():
            return frame["message"]


async def first_of(chat, *kinds) -> dict[str, dict]:
    """The first frame of each type in `kinds`, in whatever order they come (an `ok` may
    pass the broadcast it caused: on Redis the broadcast takes a round trip)."""
    found: dict[str, dict] = {}
    while len(found) < len(kinds):
        frame = await chat.recv()
        if frame["type"] in kinds:
            found.setdefault(frame["type"], frame)
    return found


async def error_of(chat, frame):
    await chat.send(frame)
    return await chat.recv_type("error")


@database_sync_to_async
def stored(seq, slug="lobby") -> Message:
    return Message.objects.select_related("author").get(room__slug=slug, seq=seq)


# --- formatted bodies -------------------------------------------------------------------


async def test_a_post_carries_its_body_as_safe_html_beside_the_source(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    body = "**bold** and https://www.djangoproject.com/ <script>alert(1)</script>"
    message = await posted(chat, body)
    assert message["body"] == body  # the source, as sent
    assert "<strong>bold</strong>" in message["html"]
    assert '<a href="https://www.djangoproject.com/" target="_blank"' in message["html"]
    assert 'rel="noopener noreferrer nofollow"' in message["html"]
    assert "<script>" not in message["html"] and "&lt;script&gt;" in message["html"]
    assert message["reply_to"] is None and message["reactions"] == [] and message["mentions"] == []
    # Stored once, beside the body: history and a new socket's welcome carry the same.
    _, welcome = await welcomed(open_chat, alice)
    assert welcome["messages"][-1]["html"] == message["html"]


async def test_plain_text_frames_are_formatted_too(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    await chat.send("`code` please")
    message = (await chat.recv_type("message"))["message"]
    assert message["html"] == "<p><code>code</code> please</p>"


# --- edits ------------------------------------------------------------------------------


async def test_the_author_edits_and_everyone_sees_it_live(open_chat, alice, bob):
    mine, _ = await welcomed(open_chat, alice)
    theirs, _ = await welcomed(open_chat, bob)
    message = await posted(mine, "helo")
    await theirs.recv_type("message")
    await mine.send({"type": "edit", "seq": message["seq"], "body": "hello *all*"})
    answers = await first_of(mine, "message_edited", "ok")
    assert answers["ok"] == {"type": "ok", "command": "edit", "seq": message["seq"]}
    for edited in (answers["message_edited"], await next_of(theirs, "message_edited")):
        assert edited["message"]["seq"] == message["seq"]
        assert edited["message"]["body"] == "hello *all*"
        assert edited["message"]["html"] == "<p>hello <em>all</em></p>"
        assert edited["message"]["edited_ts"] is not None
    row = await stored(message["seq"])
    assert row.body == "hello *all*"
    history = await database_sync_to_async(list)(
        MessageEdit.objects.filter(message=row).values_list("body", flat=True)
    )
    assert history == ["helo"]  # the moderators' record of what it said before


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"body": ""}, "empty"),
        ({"body": "   "}, "empty"),
        ({"body": "x" * 4001}, "too_long"),
        ({"body": 5}, "bad_request"),
        ({"seq": 99}, "bad_request"),
        ({"seq": "1"}, "bad_request"),
    ],
)
async def test_bad_edits_are_refused_and_change_nothing(open_chat, alice, frame, code):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "original")
    error = await error_of(chat, {"type": "edit", "seq": message["seq"], "body": "new", **frame})
    assert error["code"] == code and error["command"] == "edit"
    assert (await stored(message["seq"])).body == "original"
    assert await chat.nothing()


async def test_nobody_edits_someone_elses_message(open_chat, alice, bob):
    mine, _ = await welcomed(open_chat, alice)
    message = await posted(mine, "mine")
    theirs, _ = await welcomed(open_chat, bob)
    error = await error_of(theirs, {"type": "edit", "seq": message["seq"], "body": "yours"})
    assert error["code"] == "forbidden"
    assert (await stored(message["seq"])).body == "mine"


async def test_a_deleted_message_cannot_be_edited(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "oops")
    await chat.send({"type": "delete", "seq": message["seq"]})
    await first_of(chat, "message_deleted", "ok")
    error = await error_of(chat, {"type": "edit", "seq": message["seq"], "body": "fixed"})
    assert error["code"] == "forbidden"


async def test_edits_end_with_the_edit_window(open_chat, alice, settings):
    settings.CHAT_EDIT_WINDOW_SECONDS = 60
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "old news")
    await database_sync_to_async(
        Message.objects.filter(room__slug="lobby", seq=message["seq"]).update
    )(created_at=timezone.now() - timedelta(seconds=61))
    error = await error_of(chat, {"type": "edit", "seq": message["seq"], "body": "new"})
    assert error["code"] == "forbidden" and "1 minutes" in error["detail"]
    settings.CHAT_EDIT_WINDOW_SECONDS = 0  # no limit
    await chat.send({"type": "edit", "seq": message["seq"], "body": "new"})
    assert (await next_of(chat, "message_edited"))["message"]["body"] == "new"


async def test_a_muted_author_cannot_edit(open_chat, alice, staff):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "before")
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    await services.mute_user.acall(room=room, actor=staff, user=alice, minutes=5)
    assert (await chat.recv_type("standing"))["muted_until"] is not None
    error = await error_of(chat, {"type": "edit", "seq": message["seq"], "body": "after"})
    assert error["code"] == "forbidden"


async def test_an_unchanged_edit_changes_nothing(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "same")
    await chat.send({"type": "edit", "seq": message["seq"], "body": " same "})
    await next_of(chat, "ok", command="edit")
    row = await stored(message["seq"])
    assert row.edited_at is None
    assert not await database_sync_to_async(MessageEdit.objects.exists)()


# --- reactions --------------------------------------------------------------------------


async def test_reactions_toggle_live_with_who_reacted(open_chat, alice, bob):
    mine, _ = await welcomed(open_chat, alice)
    theirs, _ = await welcomed(open_chat, bob)
    message = await posted(mine, "react to me")
    await theirs.recv_type("message")
    seq = message["seq"]
    await theirs.send({"type": "react", "seq": seq, "emoji": "👍"})
    answers = await first_of(theirs, "reactions", "ok")
    assert answers["ok"]["on"] is True and answers["ok"]["emoji"] == "👍"
    for frame in (answers["reactions"], await next_of(mine, "reactions")):
        assert frame == {
            "type": "reactions",
            "seq": seq,
            "reactions": [{"emoji": "👍", "users": ["bob"]}],
        }
    await mine.send({"type": "react", "seq": seq, "emoji": "👨‍👩‍👧"})  # a ZWJ sequence is one
    await mine.send({"type": "react", "seq": seq, "emoji": "👍"})
    await next_of(theirs, "reactions")
    frame = await next_of(theirs, "reactions")
    assert frame["reactions"] == [
        {"emoji": "👍", "users": ["bob", "alice"]},
        {"emoji": "👨‍👩‍👧", "users": ["alice"]},
    ]
    await theirs.send({"type": "react", "seq": seq, "emoji": "👍"})  # off again
    while (frame := await next_of(mine, "reactions"))["reactions"][0]["users"] != ["alice"]:
        pass
    assert (await next_of(theirs, "ok", command="react"))["on"] is False
    # A new socket's welcome shows them as they are now.
    _, welcome = await welcomed(open_chat, bob)
    assert welcome["messages"][-1]["reactions"] == frame["reactions"]


@pytest.mark.parametrize("emoji", ["a", "👍👍", "", "👍 ", ":+1:", "#", 7, None, "x" * 100])
async def test_a_reaction_must_be_one_emoji(open_chat, alice, emoji):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "hi")
    error = await error_of(chat, {"type": "react", "seq": message["seq"], "emoji": emoji})
    assert error["code"] == "bad_request" and error["command"] == "react"
    assert (await stored(message["seq"])).reactions == []


async def test_at_most_twenty_distinct_reactions(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "popular")
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    emoji = list("😀😁😂😃😄😅😆😇😈😉😊😋😌😍😎😏😐😑😒😓")
    for one in emoji:
        await services.toggle_reaction.acall(room=room, user=alice, seq=message["seq"], emoji=one)
    await chat.send({"type": "react", "seq": message["seq"], "emoji": "🙃"})
    error = await next_of(chat, "error")
    assert error["code"] == "bad_request" and "20" in error["detail"]
    await chat.send({"type": "react", "seq": message["seq"], "emoji": "😀"})  # one of them: off
    assert (await next_of(chat, "ok", command="react"))["on"] is False


async def test_no_reactions_on_deleted_or_missing_messages(open_chat, alice):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "gone soon")
    await chat.send({"type": "delete", "seq": message["seq"]})
    await first_of(chat, "message_deleted", "ok")
    for seq in (message["seq"], 999):
        error = await error_of(chat, {"type": "react", "seq": seq, "emoji": "👍"})
        assert error["code"] == "bad_request"


# --- replies ----------------------------------------------------------------------------


async def test_a_reply_names_the_message_it_answers(open_chat, alice, bob):
    mine, _ = await welcomed(open_chat, alice)
    first = await posted(mine, "question?")
    theirs, _ = await welcomed(open_chat, bob)
    reply = await posted(theirs, "answer", reply_to=first["seq"])
    assert reply["reply_to"] == first["seq"]
    assert (await next_of(mine, "message"))["message"]["reply_to"] == first["seq"]


@pytest.mark.parametrize("reply_to", [99, 0, -1, "1", 1.5, True])
async def test_a_reply_to_no_message_is_refused(open_chat, alice, reply_to):
    chat, _ = await welcomed(open_chat, alice)
    await posted(chat, "the only one")
    frame = {"type": "message", "body": "re", "client_id": "c1", "reply_to": reply_to}
    error = await error_of(chat, frame)
    assert error["code"] == "bad_request" and error["client_id"] == "c1"
    assert await database_sync_to_async(Message.objects.count)() == 1
    # The seq it would have taken stays free: the next post is gapless.
    assert (await posted(chat, "next"))["seq"] == 2


# --- mentions ---------------------------------------------------------------------------


async def test_a_mention_highlights_counts_and_notifies(open_chat, alice, bob):
    home = await home_of(bob)
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "hey @Bob, and @nobody and `@bob` in code")
    assert message["mentions"] == ["bob"]
    assert message["html"].count('class="mention"') == 1
    assert '<span class="mention" data-user="bob">@Bob</span>' in message["html"]
    notification = await next_of(home, "notification")
    assert notification["kind"] == "mention" and notification["room"] == "lobby"
    assert notification["message"]["seq"] == message["seq"]
    counts = await counts_of(home, "lobby", message["seq"])
    assert counts["mentions"] == 1 and counts["unread"] == 1
    # Reading past it clears the count.
    theirs, _ = await welcomed(open_chat, bob)
    await theirs.send({"type": "read", "seq": message["seq"]})
    counts = await counts_of(home, "lobby", message["seq"])
    assert counts["mentions"] == 0 and counts["unread"] == 0


async def test_mentioning_oneself_counts_nothing(open_chat, alice):
    home = await home_of(alice)
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "note to @alice")
    assert message["mentions"] == ["alice"]
    assert await home.nothing(0.3, skip=frozenset({"unread", "rooms", "presence"}))
    marker = await database_sync_to_async(ReadMarker.objects.get)(user=alice)
    assert marker.mentions == 0


async def test_a_private_rooms_mentions_reach_only_its_members(open_chat, alice, bob, carol):
    room = await services.new_room.acall(user=alice, title="Secret", private=True)
    await services.invite.acall(room=room, actor=alice, user="bob")
    chat, _ = await welcomed(open_chat, alice, room.slug)
    message = await posted(chat, "@bob and @carol")
    assert message["mentions"] == ["bob"]  # carol cannot see the room: plain text
    assert 'data-user="carol"' not in message["html"]
    assert not await database_sync_to_async(Mention.objects.filter(user=carol).exists)()


async def test_deleting_a_mention_takes_its_count_back(open_chat, alice, bob):
    home = await home_of(bob)
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "@bob look")
    assert (await counts_of(home, "lobby", message["seq"]))["mentions"] == 1
    await chat.send({"type": "delete", "seq": message["seq"]})
    while True:
        frame = await next_of(home, "unread", room="lobby")
        if frame["unread"] == 0:
            break
    assert frame["mentions"] == 0


async def test_an_edit_that_adds_a_mention_notifies_and_one_that_drops_it_uncounts(
    open_chat, alice, bob
):
    home = await home_of(bob)
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "hello")
    assert (await counts_of(home, "lobby", message["seq"]))["mentions"] == 0
    await chat.send({"type": "edit", "seq": message["seq"], "body": "hello @bob"})
    notification = await next_of(home, "notification")
    assert notification["kind"] == "mention"
    assert notification["message"]["body"] == "hello @bob"
    frame = await next_of(home, "unread", room="lobby")
    assert frame["mentions"] == 1
    await chat.send({"type": "edit", "seq": message["seq"], "body": "hello all"})
    while (await next_of(chat, "message_edited"))["message"]["body"] != "hello all":
        pass
    marker = await database_sync_to_async(ReadMarker.objects.get)(user=bob)
    assert marker.mentions == 0
    # Editing again to mention bob once more is a new mention, not a second count.
    await chat.send({"type": "edit", "seq": message["seq"], "body": "@bob again"})
    await next_of(home, "notification")
    marker = await database_sync_to_async(ReadMarker.objects.get)(user=bob)
    assert marker.mentions == 1


# --- resume -----------------------------------------------------------------------------


async def test_a_resume_brings_edits_and_reactions_made_while_away(open_chat, alice, bob):
    mine, _ = await welcomed(open_chat, alice)
    first = await posted(mine, "first")
    second = await posted(mine, "second")
    third = await posted(mine, "third")
    # bob saw up to `third` and went away; meanwhile alice edits, and reacts.
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    await services.edit_message.acall(room=room, user=alice, seq=first["seq"], body="first!")
    await services.toggle_reaction.acall(room=room, user=alice, seq=second["seq"], emoji="🎉")
    await services.toggle_reaction.acall(room=room, user=alice, seq=third["seq"], emoji="🎉")
    await services.toggle_reaction.acall(room=room, user=alice, seq=third["seq"], emoji="🎉")
    await posted(mine, "fourth")
    theirs, welcome = await welcomed(open_chat, bob, since=third["seq"])
    assert [m["body"] for m in welcome["messages"]] == ["fourth"]
    edited = await theirs.recv_type("message_edited")
    assert edited["message"]["seq"] == first["seq"] and edited["message"]["body"] == "first!"
    reactions = await theirs.recv_type("reactions")
    assert reactions["seq"] == second["seq"]
    assert reactions["reactions"] == [{"emoji": "🎉", "users": ["alice"]}]
    cleared = await theirs.recv_type("reactions")  # all taken back: the client learns it too
    assert cleared == {"type": "reactions", "seq": third["seq"], "reactions": []}
    assert await theirs.nothing()


async def test_a_deleted_message_shows_no_html_reactions_or_mentions(open_chat, alice, bob):
    chat, _ = await welcomed(open_chat, alice)
    message = await posted(chat, "**@bob** see")
    room = await database_sync_to_async(Room.objects.get)(slug="lobby")
    await services.toggle_reaction.acall(room=room, user=alice, seq=message["seq"], emoji="👀")
    await services.edit_message.acall(room=room, user=alice, seq=message["seq"], body="@bob hm")
    await services.delete_message.acall(room=room, actor=alice, seq=message["seq"])
    _, welcome = await welcomed(open_chat, bob)
    gone = welcome["messages"][-1]
    assert gone["deleted"] and gone["body"] == "" and gone["html"] == ""
    assert gone["mentions"] == [] and gone["reactions"] == []
    # Nothing of what it said is kept, the edit history included.
    assert not await database_sync_to_async(MessageEdit.objects.exists)()
