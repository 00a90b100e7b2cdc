"""Data migrations: what was stored before a version keeps working after it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_RICH = [("chat", "0007_private_rooms")]
RICH = [("chat", "0008_rich_messages")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_messages_stored_before_version_2_get_their_html():
    old = migrate(BEFORE_RICH)
    user = old.get_model("auth", "User").objects.create(username="old-timer")
    room = old.get_model("chat", "Room").objects.create(slug="past", title="Past", last_seq=2)
    message = old.get_model("chat", "Message")
    message.objects.create(room=room, seq=1, author=user, body="**still** here <b>x</b>")
    message.objects.create(room=room, seq=2, author=user, body="", deleted_at="2026-01-01T00:00Z")
    try:
        new = migrate(RICH)
        rows = new.get_model("chat", "Message").objects.filter(room__slug="past").order_by("seq")
        kept, deleted = list(rows)
        assert kept.html == "<p><strong>still</strong> here &lt;b&gt;x&lt;/b&gt;</p>"
        assert (kept.mentions, kept.reactions, kept.reply_to) == ([], [], None)
        assert deleted.html == ""
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
