"""The REST API under /api/ (docs/api.md), for bots and integrations; its OpenAPI schema is
/api/openapi.json.

django-ninja, not Django REST framework: the API is a handful of thin views (parse →
service → serialize) that need a token check, JSON errors and a schema, which ninja gives
from type hints in one small dependency; DRF's serializers, viewsets and routers would be
machinery for what chat.protocol and chat.services already do. Requests are parsed by
chat.protocol's parsers (the same rules and error codes as the socket's frames), the work
is done by chat.services (the same policy, rate limits and live broadcasts), and messages
go out as the protocol's message objects.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, ValidationError
from ninja.responses import Status
from ninja.security import HttpBearer

from . import protocol, selectors, services
from .errors import BadRequest, ChatError, ErrorCode, TooLong
from .models import Room
from .services import tokens

# An error code's HTTP status: the protocol's codes, with the status a client expects.
STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.EMPTY: 400,
    ErrorCode.TOO_LONG: 413,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` (chat.services.tokens), the socket's rule."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = tokens.user_for(token)
        if found is None:
            return None
        request.user = found[0]
        return found[0]


api = NinjaAPI(
    title="Chat API",
    version="1",
    description="Rooms and messages for bots and integrations (docs/api.md).",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url=None,  # the schema is served; no page that loads scripts from elsewhere
)


def _error(request: HttpRequest, status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail, **extra}, status=status)


@api.exception_handler(ChatError)
def chat_error(request: HttpRequest, err: ChatError) -> HttpResponse:
    response = _error(request, STATUS.get(err.code, 400), err.code, err.detail, **err.extra)
    if err.code == ErrorCode.RATE_LIMITED and "retry_after" in err.extra:
        response["Retry-After"] = str(math.ceil(err.extra["retry_after"]))
    return response


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, err: Exception) -> HttpResponse:
    # Nothing about why: a missing, malformed, revoked or expired token are all alike.
    response = _error(request, 401, "unauthorized", "A valid API token is needed.")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, err: ValidationError) -> HttpResponse:
    where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in err.errors[:3])
    return _error(request, 400, ErrorCode.BAD_REQUEST, f"Malformed request ({where}).")


# --- schemas (for the OpenAPI document: the protocol module parses the bodies) ----------


class PostIn(Schema):
    body: str
    client_id: str | None = None
    reply_to: int | None = None


class EditIn(Schema):
    body: str


class ReactIn(Schema):
    emoji: str


def _request_body(schema: type[Schema]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its JSON itself (through the
    protocol's parser, for the socket's rules and codes)."""
    return {"requestBody": {"content": {"application/json": {"schema": schema.json_schema()}}}}


def _body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, within the socket's frame limit."""
    if len(request.body) > settings.CHAT_MAX_FRAME_BYTES:
        raise TooLong(f"A request body may be at most {settings.CHAT_MAX_FRAME_BYTES} bytes.")
    try:
        obj = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        raise BadRequest("The body must be a JSON object.")
    return obj


def _parse(kind: str, obj: dict[str, Any], **fields: Any) -> protocol.Command:
    return protocol.PARSERS[kind]({**obj, **fields, "type": kind})


def _room(request: HttpRequest, slug: str) -> Room:
    normalized = protocol.normalize_slug(slug)
    room = selectors.get_room(normalized) if normalized else None
    if room is None or not selectors.may_enter(room, request.user):
        raise NotFound()
    return room


class NotFound(Exception):
    """A room that does not exist or that the user may not see: the same answer."""


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, err: NotFound) -> HttpResponse:
    return _error(request, 404, "not_found", "There is no such room.")


# --- endpoints ----------------------------------------------------------------------------


@api.get("/rooms/", summary="The rooms you can see, with your counts")
def rooms(request: HttpRequest) -> dict[str, Any]:
    summaries = selectors.room_summaries(request.user)
    return {"rooms": [protocol.room_summary(room, counts) for room, counts in summaries]}


@api.get("/rooms/{slug}/messages/", summary="A page of the room's history")
def messages(
    request: HttpRequest,
    slug: str,
    before: int | None = None,
    after: int | None = None,
    limit: int = protocol.HISTORY_DEFAULT,
) -> dict[str, Any]:
    """The history command's rules: `before` (the page just below it; the latest without
    either) or `after` (the page just above it), `limit` 1 to 100, oldest first."""
    room = _room(request, slug)
    params = {k: v for k, v in (("before", before), ("after", after)) if v is not None}
    page = _parse("history", params, limit=limit)
    if page.after is not None:
        rows, more = selectors.messages_after(room, page.after, page.limit)
    else:
        rows, more = selectors.messages_before(room, page.before, page.limit)
    rows, cut = protocol.fit_frame(rows, keep_newest=page.after is None)
    return {"messages": [protocol.message_data(m) for m in rows], "has_more": more or cut}


@api.post(
    "/rooms/{slug}/messages/",
    response={200: dict, 201: dict},
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": PostIn.json_schema()}}}
    },
    summary="Post a message (201), or get the stored one for a resend of its client_id (200)",
)
def post(request: HttpRequest, slug: str) -> Status:
    room = _room(request, slug)
    command = _parse("message", _body(request))
    [outcome] = services.post_messages(room=room, user=request.user, posts=[command])
    if isinstance(outcome, ChatError):
        if command.client_id is not None:
            outcome.extra.setdefault("client_id", command.client_id)
        raise outcome
    return Status(201 if outcome.created else 200, protocol.message_data(outcome.message))


@api.patch(
    "/rooms/{slug}/messages/{seq}/",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": EditIn.json_schema()}}}
    },
    summary="Edit your own message",
)
def edit(request: HttpRequest, slug: str, seq: int) -> dict[str, Any]:
    room = _room(request, slug)
    command = _parse("edit", _body(request), seq=seq)
    message = services.edit_message(
        room=room, user=request.user, seq=command.seq, body=command.body, rate_limit=True
    )
    return protocol.message_data(message)


@api.delete("/rooms/{slug}/messages/{seq}/", summary="Delete your own message (or moderate)")
def delete(request: HttpRequest, slug: str, seq: int) -> dict[str, Any]:
    room = _room(request, slug)
    command = _parse("delete", {}, seq=seq)
    services.delete_message(room=room, actor=request.user, seq=command.seq)
    return {"seq": command.seq, "deleted": True}


@api.post(
    "/rooms/{slug}/messages/{seq}/reactions/",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": ReactIn.json_schema()}}}
    },
    summary="Toggle your reaction on a message",
)
def react(request: HttpRequest, slug: str, seq: int) -> dict[str, Any]:
    room = _room(request, slug)
    command = _parse("react", _body(request), seq=seq)
    message, on = services.toggle_reaction(
        room=room, user=request.user, seq=command.seq, emoji=command.emoji, rate_limit=True
    )
    return {"seq": message.seq, "emoji": command.emoji, "on": on, "reactions": message.reactions}
