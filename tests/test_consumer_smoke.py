import pytest
from channels.db import database_sync_to_async

from tests.support.accounts import make_user


@pytest.mark.django_db(transaction=True)
async def test_two_users_chat(open_chat):
    alice = await database_sync_to_async(make_user)("alice")
    bob = await database_sync_to_async(make_user)("bob")
    a = await open_chat(alice, "Lobby")
    welcome = await a.recv_type("welcome")
    assert welcome["room"]["slug"] == "lobby"
    b = await open_chat(bob, "lobby")
    await b.recv_type("welcome")
    await a.send("Hello, world!")
    for chat in (a, b):
        frame = await chat.recv_type("message")
        assert frame["message"]["body"] == "Hello, world!"
        assert frame["message"]["seq"] == 1
        assert frame["message"]["user"] == "alice"
