import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    """Rooms count their deleted messages, and everyone who posted in a room before read
    markers existed gets one at the room's end: they were there, and their own messages
    must never count as unread (ReadMarker's rule: every author has a row)."""
    Room = apps.get_model("chat", "Room")
    Message = apps.get_model("chat", "Message")
    ReadMarker = apps.get_model("chat", "ReadMarker")
    for room in Room.objects.all().iterator():
        deleted = Message.objects.filter(room=room, deleted_at__isnull=False).count()
        if deleted:
            Room.objects.filter(pk=room.pk).update(deleted_count=deleted)
        authors = Message.objects.filter(room=room).values_list("author_id", flat=True)
        ReadMarker.objects.bulk_create(
            [
                ReadMarker(room=room, user_id=author, last_read=room.last_seq)
                for author in set(authors.distinct())
            ],
            batch_size=500,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0005_room_activity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="room",
            name="deleted_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="room",
            name="topic",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.CreateModel(
            name="ReadMarker",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_read", models.PositiveBigIntegerField(default=0)),
                ("skip", models.PositiveIntegerField(default=0)),
                ("mentions", models.PositiveIntegerField(default=0)),
                (
                    "room",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="read_markers",
                        to="chat.room",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chat_read_markers",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "room"), name="read_marker_user_room")
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
