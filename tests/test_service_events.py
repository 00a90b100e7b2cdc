"""Services compose: events are published once, after the commit that holds their state,
and never for a transaction that rolled back (chat/services/base.py)."""

from __future__ import annotations

import pytest
from django.db import transaction

from chat import fanout, services
from chat.models import Message
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(monkeypatch):
    sent: list[list] = []

    async def record(events):
        sent.append([message for _, message in events])

    monkeypatch.setattr(fanout, "publish", record)
    return sent


@pytest.fixture
def room():
    return services.create_room(slug="den", user=make_user("alice"))


@services.service
def post_two(*, room, user, fail: bool = False) -> None:
    """A service calling a service twice inside its own transaction."""
    with transaction.atomic():
        services.post_message(room=room, user=user, body="one")
        services.post_message(room=room, user=user, body="two")
        if fail:
            raise RuntimeError("rolled back")


def test_a_service_calling_services_publishes_once_after_its_commit(room, published):
    post_two(room=room, user=room.created_by)
    bodies = [
        [seq for seq, _ in m["messages"]] for batch in published for m in batch if "messages" in m
    ]
    assert bodies == [[1], [2]]
    assert len(published) == 1  # one publish, after the one commit


def test_a_rolled_back_transaction_publishes_nothing(room, published):
    with pytest.raises(RuntimeError):
        post_two(room=room, user=room.created_by, fail=True)
    assert published == []
    assert not Message.objects.exists()


def test_events_wait_for_the_callers_transaction(room, published):
    """The admin runs services inside its own atomic block: they go out at its commit."""
    with transaction.atomic():
        services.post_message(room=room, user=room.created_by, body="held")
        assert published == []
    assert len(published) == 1


async def test_acall_publishes_on_the_event_loop(room, published):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(lambda: room.created_by)()
    await post_two.acall(room=room, user=user)
    assert len(published) == 1
