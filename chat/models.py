"""Rooms and their messages. The messages table is the room's log: `seq` numbers it."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Room(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=100)
    # One line under the title in the room header (moderators set it: room_settings).
    topic = models.CharField(max_length=200, blank=True)
    # A private room is seen, read and posted in by its members only (Membership.joined_at);
    # to everyone else it does not exist (chat.permissions.can_see, the one rule).
    private = models.BooleanField(default=False)
    # A direct conversation: a private room of exactly two users, one per pair; the key is
    # "<smaller user id>:<larger user id>", so a second one for the pair cannot exist.
    dm_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The seq of the room's newest message; the next post takes last_seq + 1 under a row lock.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    # When the room last had a message (its creation until then): the room list's order.
    last_activity = models.DateTimeField(default=timezone.now, editable=False)
    # Moderation (chat.services changes these): a locked room takes posts from moderators
    # only; slow mode is the least number of seconds between one user's posts.
    locked = models.BooleanField(default=False, editable=False)
    slow_mode_seconds = models.PositiveIntegerField(default=0, editable=False)
    # How many of its messages are deleted: the unread count of a user who never opened
    # the room is last_seq - deleted_count (ReadMarker).
    deleted_count = models.PositiveIntegerField(default=0, editable=False)
    # Retention (chat/services/retention.py): messages older than this many days are purged
    # by `manage.py purge_messages`; None follows CHAT_RETENTION_DAYS, 0 keeps them forever.
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days to keep messages; empty: the site's CHAT_RETENTION_DAYS; 0: keep.",
    )
    # Every message with seq <= purged_upto was purged: seqs are never reused, and a resume
    # from below it starts at the first message kept.
    purged_upto = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["slug"]
        # The room list's page: ORDER BY last_activity DESC, slug LIMIT 50, from the index.
        indexes = [models.Index(fields=["-last_activity", "slug"], name="room_activity_slug")]

    def __str__(self) -> str:
        return self.title or self.slug

    @property
    def is_dm(self) -> bool:
        return self.dm_key is not None


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
    # Rich messages (chat/formatting.py), rendered once per post or edit and kept beside
    # the body, so no read path renders: the sanitized HTML, and who it mentions.
    html = models.TextField(blank=True, default="")
    mentions = models.JSONField(default=list, blank=True)  # usernames, sorted
    reply_to = models.PositiveBigIntegerField(null=True, blank=True)  # a seq of the room
    # The reactions as the wire shows them ([{"emoji", "users"}]), rebuilt from Reaction
    # rows by each toggle under the message's row lock: every page, gap fill and export
    # carries them without a join.
    reactions = models.JSONField(default=list, blank=True)
    # When it was last edited or reacted to: a resume sends these again (docs/protocol.md).
    changed_at = models.DateTimeField(null=True, blank=True, editable=False)

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


class MessageEdit(models.Model):
    """A message's previous version, kept when its author edits it (moderators read them
    in the admin)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    # When this version was written: the post, or the edit before.
    written_at = models.DateTimeField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "replaced_at", "id"]

    def __str__(self) -> str:
        return f"{self.message} before {self.replaced_at:%Y-%m-%d %H:%M:%S}"


class Reaction(models.Model):
    """One user's reaction with one emoji on one message (Message.reactions is its view)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_rows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reactions"
    )
    emoji = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["message", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user} on {self.message}"


class Mention(models.Model):
    """A user @mentioned by a message: what the mention count above a read marker counts
    (by room and seq, from the index, never a scan of the room's messages)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_mentions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room", "seq"], name="mention_user_room_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room_id}#{self.seq}"


class ReadMarker(models.Model):
    """Where a user stopped reading a room: the highest seq read (only ever raised).

    Unread counts come from seqs, never from a COUNT over the room's history: the room's
    messages above `last_read` number `room.last_seq - last_read`, and `skip` of them do
    not count (the user's own, and deleted ones). The write path keeps `skip` exact: a post
    adds to its author's, a deletion to every reader who had not read that far, and a read
    recounts only what lies above the new marker. A user without a row has read nothing
    and posted nothing (every post makes its author's row), so their count is
    `last_seq - deleted_count`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_read_markers"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="read_markers")
    last_read = models.PositiveBigIntegerField(default=0)
    skip = models.PositiveIntegerField(default=0)
    # Messages above last_read, not deleted, that mention the user (Mention rows).
    mentions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="read_marker_user_room"),
        ]

    def __str__(self) -> str:
        return f"{self.user} read {self.room.slug} to {self.last_read}"

    def unread(self, last_seq: int) -> int:
        return max(0, last_seq - self.last_read - self.skip)


# --- moderation -------------------------------------------------------------------------


class Role(models.TextChoices):
    # The owner is the room's creator (Room.created_by); a row with role "owner" is not
    # needed, but one may exist when ownership is handed over.
    OWNER = "owner", "owner"
    MODERATOR = "moderator", "moderator"
    MEMBER = "member", "member"


class Membership(models.Model):
    """A user's standing in one room: role and current restrictions. No row means a plain
    member with none. History lives in AuditLog; this row is only the current state."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Set while the user is a member of a private room (invited, or its creator); None
    # for a public room's records and for a removed member.
    joined_at = models.DateTimeField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    banned_until = models.DateTimeField(null=True, blank=True)  # NULL with banned_at: forever
    ban_reason = models.CharField(max_length=500, blank=True)
    # The rank (chat.permissions) of whoever imposed the current ban / mute: lifting or
    # replacing it takes at least that rank, so an owner cannot undo staff. 0 when there is
    # none, or for one imposed before this was recorded (any moderator may lift those).
    ban_rank = models.PositiveSmallIntegerField(default=0, editable=False)
    mute_rank = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_room_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room.slug} ({self.role})"

    def is_banned(self, now: datetime) -> bool:
        return self.banned_at is not None and (self.banned_until is None or self.banned_until > now)

    def is_muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


class Invitation(models.Model):
    """A link that makes whoever follows it (logged in) a member of a private room, until it
    expires or is revoked. The link carries a signed token naming this row, never the room
    (chat.services.members)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invitations")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.room.slug} ({self.pk})"

    def is_valid(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class Report(models.Model):
    """A user's report of a message, queued for moderators in the admin."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reports"
    )
    reason = models.CharField(max_length=500)
    # The body as reported: a later deletion blanks the message, not the evidence.
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One report per user per message; reporting again changes nothing.
            models.UniqueConstraint(fields=["message", "reporter"], name="report_message_reporter"),
        ]

    def __str__(self) -> str:
        return f"report of {self.message} by {self.reporter}"


class AuditLog(models.Model):
    """Who did what to whom or which message, when and why. Written only by chat.services."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32)
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_seq = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    detail = models.CharField(max_length=200, blank=True)  # e.g. "until 2026-11-28 10:00"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target_user or self.message_seq or ''}".strip()


# --- bots and tokens ----------------------------------------------------------------------


class Profile(models.Model):
    """What the chat knows of an account beyond Django's user: whether it is a bot (shown
    with a badge; the same rules as anyone else apply to it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_profile"
    )
    bot = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user}{' (bot)' if self.bot else ''}"


class ApiToken(models.Model):
    """A personal token: authenticates a WebSocket handshake (Authorization: Bearer) and the
    REST API as its user. Only its SHA-256 is stored (chat/services/tokens.py says why that
    hash is enough); `prefix` names it in lists without revealing it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    def is_valid(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
