"""Every state change of the chat, and nothing else writes or publishes.

A service writes the database (in one transaction) and emits the events its change causes;
they are published after the commit (chat/services/base.py: the database is the log, the
channel layer only a hint). Call a service from sync code (views, admin, shell) as
`post_message(...)` and from async code (consumers) as `await post_message.acall(...)`.
Services may call each other: events of both go out once, after the commit.

One module per concern: rooms, messages (the write path of a post), edits, reactions,
mentions (their counts and notifications), retention (purges), moderation, accounts,
reads (read markers and unread counts), roomlife (typing), members (private rooms,
invitations, direct conversations), tokens (API tokens, bots).
"""

from .accounts import deactivate_user, disconnect_user
from .base import Service, emit, service
from .edits import edit_message
from .members import (
    InvalidInvitation,
    accept_invitation,
    check_private_change,
    create_invitation,
    invitation_for,
    invitation_token,
    invite,
    leave_room,
    open_dm,
    remove_member,
    revoke_invitation,
    set_private,
)
from .messages import (
    Outcome,
    PostResult,
    clean_body,
    not_stored,
    post_message,
    post_messages,
)
from .moderation import (
    TIMED_ACTIONS,
    USER_ACTIONS,
    ban_user,
    delete_message,
    delete_room,
    kick_user,
    mute_user,
    report_message,
    resolve_report,
    set_role,
    unban_user,
    unmute_user,
    update_room,
)
from .reactions import toggle_reaction
from .reads import mark_read
from .retention import set_retention
from .roomlife import announce_typing
from .rooms import TITLE_MAX, clean_title, create_room, new_room, open_room, slug_for, title_for
from .tokens import create_api_token, revoke_api_token, set_bot

__all__ = [
    "TIMED_ACTIONS",
    "TITLE_MAX",
    "USER_ACTIONS",
    "InvalidInvitation",
    "Outcome",
    "PostResult",
    "Service",
    "accept_invitation",
    "announce_typing",
    "ban_user",
    "check_private_change",
    "clean_body",
    "clean_title",
    "create_api_token",
    "create_invitation",
    "create_room",
    "deactivate_user",
    "delete_message",
    "delete_room",
    "disconnect_user",
    "edit_message",
    "emit",
    "invitation_for",
    "invitation_token",
    "invite",
    "kick_user",
    "leave_room",
    "mark_read",
    "mute_user",
    "new_room",
    "not_stored",
    "open_dm",
    "open_room",
    "post_message",
    "post_messages",
    "remove_member",
    "report_message",
    "resolve_report",
    "revoke_api_token",
    "revoke_invitation",
    "service",
    "set_bot",
    "set_private",
    "set_retention",
    "set_role",
    "slug_for",
    "title_for",
    "toggle_reaction",
    "unban_user",
    "unmute_user",
    "update_room",
]
