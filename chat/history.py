"""The history's pages: search (`/search/`) and a room's transcript
(`/chat/<slug>/export.json`, `.txt`). Both ask the one access rule (chat.selectors)."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from . import export, protocol, ratelimit, search, selectors
from .errors import RateLimited
from .forms import SearchForm
from .views import _dm_sides, _sidebar


@login_required
def search_page(request: HttpRequest) -> HttpResponse:
    """`/search/?q=...&room=&user=&after=&before=&sort=`: results grouped by room."""
    form = SearchForm(request.GET or None)
    groups: list[search.Group] | None = None
    query = form.query() if form.is_valid() else None
    status = 400 if form.is_bound and not form.is_valid() else 200
    if query is not None:
        try:
            ratelimit.take_search(request.user.pk)
        except RateLimited as err:
            wait = math.ceil(err.extra["retry_after"])
            form.add_error("q", _("You are searching too fast: wait %(n)d s.") % {"n": wait})
            status = 429
        else:
            groups = search.grouped(search.search(request.user, query), query)
    summaries = selectors.room_summaries(request.user)
    _dm_sides([group.room for group in groups or []], summaries)  # headings: the other side
    context = {
        "form": form,
        "groups": groups,
        "count": sum(len(g.hits) for g in groups or []),
        "limit": search.RESULTS_MAX,
        **_sidebar(request, summaries),
    }
    return render(request, "chat/search.html", context, status=status)


@login_required
def export_room(request: HttpRequest, room: str, fmt: str) -> HttpResponse:
    """The transcript of a room the user may read, streamed as a download."""
    slug = protocol.normalize_slug(room)
    found = selectors.get_room(slug) if slug else None
    if found is None or not selectors.may_enter(found, request.user):
        raise Http404("No such room.")
    try:
        ratelimit.take_export(request.user.pk)
    except RateLimited as err:
        text = _("You have downloaded many transcripts: wait a while before the next one.")
        response = HttpResponse(text, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(math.ceil(err.extra["retry_after"]))
        return response
    kind = "application/json" if fmt == "json" else "text/plain; charset=utf-8"
    response = StreamingHttpResponse(export.stream(found, fmt), content_type=kind)
    stamp = timezone.now().strftime("%Y%m%d")
    extension = "json" if fmt == "json" else "txt"
    name = f"{found.slug}-{stamp}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
