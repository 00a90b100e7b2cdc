"""Which ephemeral frames (presence, typing) each socket of a room gets from one flush
(chat.fanout.LifeTexts): only those queued since it joined, never its own user's, and
presence changes beyond PRESENCE_FRAMES_MAX as one `presence_changes` frame."""

from __future__ import annotations

import json

from chat import protocol
from chat.fanout import PRESENCE_FRAMES_MAX, Connection, Life, LifeTexts


def conn(name: str, user_id: int, life_from: int = 0) -> Connection:
    async def send(frame: dict) -> None:
        raise AssertionError("not sent in these tests")

    c = Connection("lobby", user_id, send, username=name)
    c.life_from = life_from
    return c


def arrival(name: str, online: bool = True) -> Life:
    return Life(protocol.presence_frame(name, online), None, name, (name, online))


def typing(name: str, user_id: int) -> Life:
    return Life(protocol.typing_frame(name), user_id, None)


def frames(texts: list[str]) -> list[dict]:
    return [json.loads(text) for text in texts]


def test_a_few_changes_go_as_presence_frames_and_never_to_their_own_user():
    assert PRESENCE_FRAMES_MAX == 2
    texts = LifeTexts([arrival("bob"), typing("carol", 3)], base=0)
    assert frames(texts.of(conn("alice", 1))) == [
        {"type": "presence", "user": "bob", "online": True},
        {"type": "typing", "user": "carol"},
    ]
    assert frames(texts.of(conn("bob", 2))) == [{"type": "typing", "user": "carol"}]
    assert frames(texts.of(conn("carol", 3))) == [
        {"type": "presence", "user": "bob", "online": True}
    ]


def test_many_changes_go_as_one_frame_with_the_last_state_of_each_user():
    queued = [arrival("bob"), arrival("dave"), arrival("erin"), arrival("bob", False)]
    texts = LifeTexts([*queued, typing("carol", 3)], base=10)
    assert frames(texts.of(conn("alice", 1))) == [
        {"type": "presence_changes", "online": ["dave", "erin"], "offline": ["bob"]},
        {"type": "typing", "user": "carol"},
    ]
    # erin is not told of herself: three changes of two users, as two frames of their own.
    assert frames(texts.of(conn("erin", 5))) == [
        {"type": "presence", "user": "bob", "online": False},
        {"type": "presence", "user": "dave", "online": True},
        {"type": "typing", "user": "carol"},
    ]
    # dave, told of three changes but his own, gets two: as frames of their own.
    texts = LifeTexts([arrival("bob"), arrival("dave"), arrival("erin")], base=0)
    assert frames(texts.of(conn("dave", 4))) == [
        {"type": "presence", "user": "bob", "online": True},
        {"type": "presence", "user": "erin", "online": True},
    ]


def test_a_socket_gets_only_what_was_queued_after_it_joined():
    queued = [arrival("bob"), arrival("dave"), arrival("erin"), typing("carol", 3)]
    texts = LifeTexts(queued, base=10)
    # Joined after bob's and dave's arrivals (frames 10 and 11): erin's and the typing.
    assert frames(texts.of(conn("zoe", 9, life_from=12))) == [
        {"type": "presence", "user": "erin", "online": True},
        {"type": "typing", "user": "carol"},
    ]
    assert texts.of(conn("yan", 8, life_from=14)) == []
    # Sockets alike share one list: it is built once per kind of socket, not per socket.
    first, second = conn("alice", 1), conn("amy", 7)
    assert texts.of(first) is texts.of(second)


def test_one_user_coming_and_going_in_one_flush_is_told_as_their_last_state():
    queued = [arrival("bob"), arrival("bob", False), arrival("bob"), arrival("bob", False)]
    assert frames(LifeTexts(queued, base=0).of(conn("alice", 1))) == [
        {"type": "presence", "user": "bob", "online": False}
    ]
