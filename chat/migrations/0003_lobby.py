"""The public room `lobby`, so `ws/chat/lobby/` works on a new site (rooms are no longer
created by visiting them: docs/protocol.md, "Room creation")."""

from django.db import migrations


def create_lobby(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    Room.objects.get_or_create(slug="lobby", defaults={"title": "Lobby"})


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_moderation")]

    operations = [migrations.RunPython(create_lobby, migrations.RunPython.noop)]
