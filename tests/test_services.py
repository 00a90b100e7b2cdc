"""chat.services.post_message: the one write path for messages."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from chat import protocol, services
from chat.errors import ChatError
from chat.models import Message, Room
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice():
    return make_user("alice")


@pytest.fixture
def room(alice):
    return services.create_room(slug="lobby", user=alice)


def stored(room: Room) -> list[tuple[int, str, str | None]]:
    return list(
        Message.objects.filter(room=room).order_by("seq").values_list("seq", "body", "client_id")
    )


def test_seqs_are_one_to_n_without_gaps(room, alice):
    posts = [services.post_message(room=room, user=alice, body=f"m{i}") for i in range(7)]
    seqs = [p.message.seq for p in posts]
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
    assert [s for s, _, _ in stored(room)] == [1, 2, 3, 4, 5, 6, 7]
    room.refresh_from_db()
    assert room.last_seq == 7
    assert room.last_activity is not None


def test_seqs_are_per_room(alice):
    a = services.create_room(slug="a", user=alice)
    b = services.create_room(slug="b", user=alice)
    services.post_message(room=a, user=alice, body="1")
    services.post_message(room=a, user=alice, body="2")
    assert services.post_message(room=b, user=alice, body="1").message.seq == 1


def test_resend_with_known_client_id_stores_nothing_and_returns_the_stored_one(room, alice):
    first = services.post_message(room=room, user=alice, body="hello", client_id="c-1")
    assert first.created
    again = services.post_message(room=room, user=alice, body="hello (edited?)", client_id="c-1")
    assert not again.created
    assert again.message.pk == first.message.pk
    assert again.message.body == "hello"
    assert again.frame == first.frame
    assert stored(room) == [(1, "hello", "c-1")]
    # The next new message still takes the next seq.
    assert services.post_message(room=room, user=alice, body="x", client_id="c-2").message.seq == 2


def test_client_id_is_per_author(room, alice):
    bob = make_user("bob")
    services.post_message(room=room, user=alice, body="from alice", client_id="same")
    theirs = services.post_message(room=room, user=bob, body="from bob", client_id="same")
    assert theirs.created
    assert [b for _, b, _ in stored(room)] == ["from alice", "from bob"]


def test_body_is_stripped(room, alice):
    result = services.post_message(room=room, user=alice, body="  \n hi there \t ")
    assert result.message.body == "hi there"
    assert '"body":"hi there"' in result.frame


@pytest.mark.parametrize("body", ["", "   ", "\n\t \r\n"])
def test_blank_body_is_refused_as_empty(room, alice, body):
    with pytest.raises(ChatError) as err:
        services.post_message(room=room, user=alice, body=body, client_id="c")
    assert err.value.code == "empty"
    assert stored(room) == []


def test_body_over_the_limit_is_refused_as_too_long(room, alice, settings):
    settings.CHAT_MAX_MESSAGE_LENGTH = 10
    assert services.post_message(room=room, user=alice, body="x" * 10).message.seq == 1
    # Surrounding white space does not count.
    assert services.post_message(room=room, user=alice, body=" " + "y" * 10 + " ").created
    with pytest.raises(ChatError) as err:
        services.post_message(room=room, user=alice, body="z" * 11)
    assert err.value.code == "too_long"
    assert [b for _, b, _ in stored(room)] == ["x" * 10, "y" * 10]


def test_default_limit_is_4000_characters(room, alice):
    services.post_message(room=room, user=alice, body="é" * 4000)
    with pytest.raises(ChatError):
        services.post_message(room=room, user=alice, body="é" * 4001)


def test_concurrent_posts_get_unique_gapless_seqs(room, alice):
    """Several threads (each with its own database connection) post at once: every post
    gets a distinct seq and together they are 1..N."""
    threads, per_thread = 4, 15
    users = [alice] + [make_user(f"user{i}") for i in range(1, threads)]
    start = threading.Barrier(threads)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(user) -> None:
        try:
            start.wait(timeout=10)
            for i in range(per_thread):
                seq = services.post_message(room=room, user=user, body=f"{user} {i}").message.seq
                with lock:
                    results.append(seq)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not errors, errors
    total = threads * per_thread
    assert sorted(results) == list(range(1, total + 1))
    assert [s for s, _, _ in stored(room)] == list(range(1, total + 1))
    room.refresh_from_db()
    assert room.last_seq == total


def test_concurrent_resends_of_one_client_id_store_it_once(room, alice):
    """The same client_id sent by several threads at once (a client retrying on several
    sockets) is stored once; every caller gets the same stored message."""
    threads = 4
    start = threading.Barrier(threads)
    seqs: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            r = services.post_message(room=room, user=alice, body="once", client_id="dup")
            seqs.append(r.message.seq)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not errors, errors
    assert seqs == [1] * threads
    assert stored(room) == [(1, "once", "dup")]


def test_refused_and_resent_posts_take_no_seq(room, alice):
    """The next seq is taken (and the room row locked) in one statement at the start of a
    post; a post that then stores nothing gives it back: seqs stay 1..N."""
    first = services.post_message(room=room, user=alice, body="one", client_id="c1")
    again = services.post_message(room=room, user=alice, body="one", client_id="c1")
    assert again.message.seq == first.message.seq == 1
    room.locked = True
    room.save(update_fields=["locked"])
    bob = make_user("bob")
    with pytest.raises(ChatError):
        services.post_message(room=room, user=bob, body="while locked")
    room.locked = False
    room.save(update_fields=["locked"])
    second = services.post_message(room=room, user=bob, body="two")
    assert second.message.seq == 2
    assert [s for s, _, _ in stored(room)] == [1, 2]
    room.refresh_from_db()
    assert room.last_seq == 2 and room.last_activity is not None


# --- post_messages: a socket's queued posts stored in one transaction --------------------


def outcome_codes(outcomes) -> list[str | int]:
    """Per post: the seq it was stored with, "resend:<seq>", or the refusal's code."""
    codes: list[str | int] = []
    for o in outcomes:
        if isinstance(o, ChatError):
            codes.append(o.code)
        else:
            codes.append(o.message.seq if o.created else f"resend:{o.message.seq}")
    return codes


def post(body: str, client_id: str | None = None) -> protocol.Post:
    return protocol.Post(body, client_id)


def test_a_batch_gets_consecutive_seqs_in_order_and_refusals_take_none(room, alice):
    services.post_message(room=room, user=alice, body="before", client_id="old")
    outcomes = services.post_messages(
        room=room,
        user=alice,
        posts=[
            post("a", "c-a"),
            post("   "),  # empty
            post("again", "old"),  # a resend of a stored message
            post("b"),
            post("x" * 5000),  # too long
            post("a twice", "c-a"),  # a resend of this batch's own first post
            post("c", "c-c"),
        ],
    )
    assert outcome_codes(outcomes) == [2, "empty", "resend:1", 3, "too_long", "resend:2", 4]
    assert stored(room) == [(1, "before", "old"), (2, "a", "c-a"), (3, "b", None), (4, "c", "c-c")]
    room.refresh_from_db()
    assert room.last_seq == 4
    # The next post continues without a gap.
    assert services.post_message(room=room, user=alice, body="d").message.seq == 5


def test_a_batch_from_a_muted_user_stores_nothing(room, alice):
    owner = make_user("owner")
    den = services.create_room(slug="den", user=owner)
    services.post_message(room=den, user=owner, body="first")
    services.mute_user(room=den, actor=owner, user=alice, minutes=5)
    outcomes = services.post_messages(room=den, user=alice, posts=[post("a"), post("b")])
    assert outcome_codes(outcomes) == ["forbidden", "forbidden"]
    den.refresh_from_db()
    assert den.last_seq == 1
    assert [s for s, _, _ in stored(den)] == [1]


def test_slow_mode_stores_the_first_post_of_a_batch_and_refuses_the_rest(alice):
    owner = make_user("owner")
    den = services.create_room(slug="den", user=owner)
    services.update_room(room=den, actor=owner, slow_mode=30)
    outcomes = services.post_messages(
        room=den, user=alice, posts=[post("one"), post("two"), post("three")]
    )
    assert outcome_codes(outcomes) == [1, "rate_limited", "rate_limited"]
    assert outcomes[1].extra["retry_after"] == 30
    # A moderator is not slowed: the whole batch is stored.
    outcomes = services.post_messages(room=den, user=owner, posts=[post("m1"), post("m2")])
    assert outcome_codes(outcomes) == [2, 3]
    assert [s for s, _, _ in stored(den)] == [1, 2, 3]
