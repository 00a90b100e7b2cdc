"""The site's pages: sign-up, the room list and the room page. The room page renders the
latest messages on the server (autoescaped HTML plus the same data as json_script for the
script); everything live goes over the WebSocket (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import commands, permissions, protocol, selectors, services
from .errors import ChatError
from .forms import RoomForm
from .models import Room

Summaries = list[tuple[Room, protocol.Counts]]

ROOMS_PER_PAGE = 50
SIDEBAR_ROOMS = 50  # the sidebar's first list, before the home socket's `hello` replaces it


NO_COUNTS = protocol.Counts(0, 0, 0, 0)


def _sidebar(request: HttpRequest, summaries: Summaries, current: str = "") -> dict:
    """The sidebar's rooms and direct conversations with their counts, rendered with the
    page (sidebar.js keeps them live). A direct conversation's summary room carries
    `dm_with`, the other side (chat.selectors)."""
    first = summaries[:SIDEBAR_ROOMS]
    return {
        "sidebar_rooms": [(room, counts) for room, counts in first if not room.is_dm],
        "sidebar_dms": [(room, counts) for room, counts in first if room.is_dm],
        "current_room": current,
    }


def _dm_sides(rooms: Iterable[Room], summaries: Summaries) -> None:
    """Name the other side (`dm_with`) of each direct conversation among `rooms`, from the
    summaries already read (which name it for this user), for the room list's cards."""
    sides = {room.slug: room.dm_with for room, _ in summaries if room.is_dm}
    for room in rooms:
        if room.is_dm:
            room.dm_with = sides.get(room.slug, "")


def _counts(
    request: HttpRequest, rooms: Iterable[Room], summaries: Summaries
) -> dict[str, protocol.Counts]:
    """The user's counts of `rooms` by slug: from the room list already read (`summaries`,
    the most recently active rooms), else read for the rest (two queries)."""
    known = {room.slug: counts for room, counts in summaries}
    missing = [room.slug for room in rooms if room.slug not in known and room.pk is not None]
    if missing:
        found = selectors.unread_counts([request.user.pk], missing)
        known.update({slug: counts for (_, slug), counts in found.items()})
    return known


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The room list, a page at a time, and the form that creates a room (a POST: a GET
    never creates anything)."""
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.new_room(
                user=request.user,
                title=form.cleaned_data["title"],
                private=form.cleaned_data["private"],
            )
        except ChatError as err:  # rate_limited, or unavailable
            form.add_error("title", ValidationError(err.detail, code=err.code))
        else:
            return redirect("chat:room", room=room.slug)
    # Django's Paginator: one COUNT and one LIMIT/OFFSET page on the (last_activity) index.
    rooms = Paginator(selectors.visible_rooms(request.user), ROOMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    status = 429 if form.has_error("title", "rate_limited") else 200
    summaries = selectors.room_summaries(request.user)
    counts = _counts(request, rooms, summaries)
    _dm_sides(rooms, summaries)
    context = {
        "form": form,
        "rooms": rooms,
        # The page's rooms with the user's counts (their badges); roomlist.js keeps them live.
        "room_rows": [(room, counts.get(room.slug, NO_COUNTS)) for room in rooms],
        "rooms_offset": (rooms.number - 1) * ROOMS_PER_PAGE,
        "rooms_per_page": ROOMS_PER_PAGE,
        **_sidebar(request, summaries),
    }
    return render(request, "chat/index.html", context, status=status)


def _seq_param(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and 0 < int(value) <= protocol.SEQ_MAX:
        return int(value)
    return None


@login_required
def room(request: HttpRequest, room: str) -> HttpResponse:
    slug = protocol.normalize_slug(room)
    if slug is None:
        raise Http404("No such room.")
    if slug != room:
        return redirect("chat:room", room=slug)  # one canonical, lowercase URL per room
    chat_room = selectors.get_room(slug)
    if chat_room is None and settings.CHAT_AUTO_CREATE_ROOMS:
        # The tutorial's behaviour: the page's socket creates the room (a GET creates
        # nothing); until then the page shows it empty, titled from its slug.
        chat_room = Room(slug=slug, title=services.title_for(slug))
    if chat_room is None or not selectors.may_enter(chat_room, request.user):
        raise Http404("No such room.")
    messages, has_more = selectors.messages_before(chat_room, None, protocol.WELCOME_PAGE)
    summaries = selectors.room_summaries(request.user)
    counts = _counts(request, [chat_room], summaries).get(chat_room.slug, NO_COUNTS)
    rank = permissions.rank(chat_room, request.user)
    members = selectors.members(chat_room) if chat_room.private and chat_room.pk else None
    me = request.user.get_username()
    # A direct conversation is shown by the other side's name, not its "alice · bob" title.
    dm_with = next((n for n in members or [] if n != me), "") if chat_room.is_dm else ""
    config = {
        "room": protocol.room_data(chat_room, members),
        "username": me,
        "ws_path": f"/ws/chat/{chat_room.slug}/",
        "max_length": settings.CHAT_MAX_MESSAGE_LENGTH,
        # Staff, the room's owner and its moderators (chat.permissions) get the controls.
        "is_moderator": rank >= permissions.MODERATOR,
        # The commands this user may send here, from the registry (the page's controls).
        "commands": commands.page_commands(rank),
        # Where the user stopped reading: the "new messages" divider, before the welcome.
        "last_read": counts.last_read,
        "dm_with": dm_with,
        # Who invites and removes, who makes a room private (chat.permissions, as the
        # services ask it).
        "may_invite": permissions.can_invite(chat_room, rank),
        "may_set_private": permissions.can_set_private(chat_room, rank),
        # Rich messages: how long the author may edit (0: always), reactions per message.
        "edit_window": settings.CHAT_EDIT_WINDOW_SECONDS,
        "reactions_max": protocol.REACTIONS_MAX,
        # `?at=<seq>` (a search result): the page opens at that message, context around it.
        "at": _seq_param(request.GET.get("at")),
        # Accounts flagged as bots (a badge beside their name).
        "bots": selectors.bot_usernames(),
    }
    initial = {
        "messages": [protocol.message_data(m) for m in messages],
        "has_more": has_more,
    }
    return render(
        request,
        "chat/room.html",
        {
            "room": chat_room,
            "room_label": dm_with or chat_room.title,
            "messages": messages,
            "config": config,
            "initial": initial,
            **_sidebar(request, summaries, chat_room.slug),
        },
    )
