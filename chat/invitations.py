"""The invitation link's page: `/invite/<token>/`. A GET shows the room it invites to and a
button; the POST joins (a GET never changes anything). A tampered, expired or revoked link
gets a friendly page and no membership."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import permissions, services


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = services.invitation_for(token)
    except services.InvalidInvitation:
        return render(request, "chat/invitation_invalid.html", status=404)
    room = found.room
    if permissions.is_member(room, request.user):
        return redirect("chat:room", room=room.slug)
    if request.method == "POST":
        try:
            services.accept_invitation(token=token, user=request.user)
        except services.InvalidInvitation:
            return render(request, "chat/invitation_invalid.html", status=404)
        return redirect("chat:room", room=room.slug)
    return render(request, "chat/invitation.html", {"room": room, "invitation": found})
