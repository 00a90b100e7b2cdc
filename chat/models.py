"""Rooms and their messages. The messages table is the room's log: `seq` numbers it."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Room(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The seq of the room's newest message; the next post takes last_seq + 1 under a row lock.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    last_activity = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["slug"]
        indexes = [models.Index(fields=["-last_activity"], name="room_last_activity")]

    def __str__(self) -> str:
        return self.title or self.slug

    @property
    def group_name(self) -> str:
        """The Channels group of this room; slugs are validated, so this is a legal name."""
        return f"room.{self.slug}"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # NULL, not "", means "no client_id": the unique constraint below skips NULLs.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            # Also the index behind every keyset page: (room, seq).
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq"),
            # Idempotent sends: one stored message per (room, author, client_id).
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_room_author_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room.slug}#{self.seq}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
