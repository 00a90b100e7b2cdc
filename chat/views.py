"""The site's pages: sign-up, the room list and the room page. The room page renders the
latest messages on the server (autoescaped HTML plus the same data as json_script for the
script); everything live goes over the WebSocket (docs/protocol.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import permissions, protocol, selectors, services
from .errors import ChatError
from .forms import RoomForm


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The room list, and the form that creates (or opens) a room by name."""
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.create_room(slug=form.cleaned_data["name"], user=request.user)
        except ChatError as err:  # the form checked the slug already; be safe anyway
            form.add_error("name", err.detail)
        else:
            return redirect("chat:room", room=room.slug)
    rooms = selectors.rooms_with_stats()
    return render(request, "chat/index.html", {"form": form, "rooms": rooms})


@login_required
def room(request: HttpRequest, room: str) -> HttpResponse:
    slug = protocol.normalize_slug(room)
    if slug is None:
        raise Http404("No such room.")
    if slug != room:
        return redirect("chat:room", room=slug)  # one canonical, lowercase URL per room
    chat_room = services.open_room(slug=slug, user=request.user)
    if chat_room is None:
        raise Http404("No such room.")
    messages, has_more = selectors.messages_before(chat_room, None, protocol.WELCOME_PAGE)
    config = {
        "room": protocol.room_data(chat_room),
        "username": request.user.get_username(),
        "ws_path": f"/ws/chat/{chat_room.slug}/",
        "max_length": settings.CHAT_MAX_MESSAGE_LENGTH,
        # Staff, the room's owner and its moderators (chat.permissions) get the controls.
        "is_moderator": permissions.can_moderate(chat_room, request.user),
    }
    initial = {
        "messages": [protocol.message_data(m) for m in messages],
        "has_more": has_more,
    }
    return render(
        request,
        "chat/room.html",
        {"room": chat_room, "messages": messages, "config": config, "initial": initial},
    )
