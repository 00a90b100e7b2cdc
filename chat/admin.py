"""The Django admin for moderators: rooms, messages, members, reports and the audit log.

Every moderation action here calls a service in chat.services, so it takes effect live in
every open room exactly as the same action taken from the room would; the admin never
writes these models itself. Staff users moderate every room, so every staff user may see
and act here (Django's per-model permissions are not needed for that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from . import protocol, services
from .errors import ChatError
from .models import (
    ApiToken,
    AuditLog,
    Invitation,
    Membership,
    Message,
    MessageEdit,
    Reaction,
    Report,
    Room,
)

User = get_user_model()


class StaffSees:
    """Every staff user sees these lists and may run their actions (the services check the
    actor again)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_staff


class StaffModerates(StaffSees):
    """...and nobody adds, edits or deletes these rows by hand: only through services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run(
    request: HttpRequest, items: Iterable[Any], action: Callable[[Any], object], done: str
) -> None:
    """Call `action` for each item, report how many succeeded and why others were refused."""
    count = 0
    for item in items:
        try:
            action(item)
        except ChatError as err:
            messages.error(request, f"{item}: {err.detail}")
        else:
            count += 1
    if count:
        messages.success(request, f"{done}: {count}.")


# --- the intermediate form of the ban / mute / kick actions ----------------------------


class ModerationForm(forms.Form):
    room = forms.ModelChoiceField(Room.objects.all(), to_field_name="slug")
    minutes = forms.IntegerField(
        min_value=1,
        max_value=protocol.MINUTES_MAX,
        required=False,
        help_text="Mute: default 10. Ban: leave empty to ban until unbanned.",
    )
    reason = forms.CharField(max_length=protocol.REASON_MAX, required=False)

    def __init__(self, *args: Any, with_room: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_room:
            del self.fields["room"]


# What the admin's message says once an action on users is done (the actions themselves
# are services.USER_ACTIONS, as for every other entry point).
DONE = {
    "ban": "Banned",
    "mute": "Muted",
    "kick": "Kicked",
    "unban": "Unbanned",
    "unmute": "Unmuted",
}


def moderate_users(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    verb: str,
    targets: Callable[[dict[str, Any]], list[tuple[Room, Any]]],
    *,
    with_room: bool,
) -> HttpResponse | None:
    """Show the form (room, minutes, reason) for `verb`; on submit call the service for each
    (room, user) that `targets(cleaned_data)` gives."""
    form = ModerationForm(request.POST if "apply" in request.POST else None, with_room=with_room)
    if form.is_valid():
        fn, done = services.USER_ACTIONS[verb], DONE[verb]
        data = form.cleaned_data
        extra: dict[str, Any] = {}
        if verb in services.TIMED_ACTIONS and data["minutes"]:
            extra["minutes"] = data["minutes"]

        def act(pair: tuple[Room, Any]) -> None:
            room, user = pair
            fn(room=room, actor=request.user, user=user, reason=data["reason"], **extra)

        _run(request, targets(data), act, done)
        return None  # back to the list
    return action_form_page(modeladmin, request, queryset, verb, form)


def action_form_page(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, verb: str, form: Any
) -> HttpResponse:
    """The intermediate page of an admin action: the selection, the form, and the hidden
    fields that post the same action back with "apply"."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": verb.capitalize(),
        "verb": verb,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action"),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/chat/action_form.html", context)


def _user_actions(with_room: bool, pairs: Callable[..., list[tuple[Room, Any]]]) -> list[Any]:
    """ban/mute/kick/unban/unmute admin actions for a list of users or of messages."""
    actions = []
    for verb in DONE:

        def action(modeladmin, request, queryset, verb=verb):  # type: ignore[no-untyped-def]
            return moderate_users(
                modeladmin,
                request,
                queryset,
                verb,
                lambda data: pairs(queryset, data),
                with_room=with_room,
            )

        action.__name__ = f"{verb}_users"
        action.short_description = (  # type: ignore[attr-defined]
            f"{verb.capitalize()} the selected users in a room"
            if with_room
            else f"{verb.capitalize()} the authors of the selected messages in their rooms"
        )
        actions.append(action)
    return actions


# --- rooms ------------------------------------------------------------------------------


class SlowModeForm(forms.Form):
    seconds = forms.IntegerField(min_value=0, max_value=3600, help_text="0 turns slow mode off.")


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Who becomes a member of the rooms.")


@admin.register(Room)
class RoomAdmin(StaffSees, admin.ModelAdmin):
    list_display = (
        "slug",
        "title",
        "created_by",
        "created_at",
        "last_activity",
        "last_seq",
        "locked",
        "slow_mode_seconds",
        "private",
        "dm",
    )
    list_filter = ("private", "locked", ("created_at", admin.DateFieldListFilter))
    search_fields = ("slug", "title", "created_by__username")
    list_select_related = ("created_by",)
    readonly_fields = (
        "created_by",
        "created_at",
        "last_seq",
        "last_activity",
        "locked",
        "slow_mode_seconds",
        "purged_upto",
    )
    actions = ("lock_rooms", "unlock_rooms", "set_slow_mode", "invite_user")

    @admin.display(description="direct", boolean=True)
    def dm(self, room: Room) -> bool:
        return room.is_dm

    def get_readonly_fields(self, request: HttpRequest, obj: Room | None = None) -> Any:
        # The slug names the room's URL and group: fixed once the room exists.
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields

    @admin.display(description="messages", ordering="last_seq")
    def last_seq(self, room: Room) -> int:
        return room.last_seq

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        if change:
            services.update_room(room=obj, actor=request.user, title=obj.title, topic=obj.topic)
            if "private" in form.changed_data:
                services.set_private(room=obj, actor=request.user, private=obj.private)
            if "retention_days" in form.changed_data:
                services.set_retention(room=obj, actor=request.user, days=obj.retention_days)
            return
        room = services.create_room(slug=obj.slug, user=request.user, title=obj.title)
        if obj.topic:
            services.update_room(room=room, actor=request.user, topic=obj.topic)
        if obj.private:
            services.set_private(room=room, actor=request.user, private=True)
        if obj.retention_days is not None:
            services.set_retention(room=room, actor=request.user, days=obj.retention_days)
        obj.pk, obj.slug, obj.created_by = room.pk, room.slug, room.created_by
        obj._state.adding = False

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A room's messages, memberships and reports go with it (delete_room), though no
        # one may delete those rows one by one.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Room) -> None:
        services.delete_room(room=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        for room in queryset:
            services.delete_room(room=room, actor=request.user)

    def _set_locked(self, request: HttpRequest, queryset: QuerySet[Room], locked: bool) -> None:
        _run(
            request,
            queryset,
            lambda room: services.update_room(room=room, actor=request.user, locked=locked),
            "Locked" if locked else "Unlocked",
        )

    @admin.action(description="Lock the selected rooms (only moderators post)")
    def lock_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        self._set_locked(request, queryset, True)

    @admin.action(description="Unlock the selected rooms")
    def unlock_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        self._set_locked(request, queryset, False)

    def _with_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[Room],
        form_class: type[forms.Form],
        verb: str,
        act: Callable[[Room, dict[str, Any]], Any],
        done: str,
    ) -> Any:
        """An action with an intermediate form: show it, and once it is valid run `act` on
        each selected room (a service call) with the form's data."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(self, request, queryset, verb, form)
        _run(request, queryset, lambda room: act(room, form.cleaned_data), done)
        return None

    @admin.action(description="Set slow mode in the selected rooms")
    def set_slow_mode(self, request: HttpRequest, queryset: QuerySet[Room]) -> Any:
        def act(room: Room, data: dict[str, Any]) -> Any:
            return services.update_room(room=room, actor=request.user, slow_mode=data["seconds"])

        return self._with_form(
            request, queryset, SlowModeForm, "set slow mode", act, "Slow mode set"
        )

    @admin.action(description="Invite a user into the selected private rooms")
    def invite_user(self, request: HttpRequest, queryset: QuerySet[Room]) -> Any:
        def act(room: Room, data: dict[str, Any]) -> Any:
            return services.invite(room=room, actor=request.user, user=data["username"])

        return self._with_form(request, queryset, InviteForm, "invite", act, "Invited")


# --- messages ---------------------------------------------------------------------------


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


def _message_authors(queryset: QuerySet[Message], data: dict[str, Any]) -> list[tuple[Room, Any]]:
    pairs = {(m.room_id, m.author_id): (m.room, m.author) for m in queryset}
    return list(pairs.values())


class ReadOnlyInline(StaffSees, admin.TabularInline):
    """Rows written by the services alone, shown on their message's page."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageEditInline(ReadOnlyInline):
    """The previous versions of an edited message, oldest first (a moderator reads what
    it said before)."""

    model = MessageEdit
    fields = readonly_fields = ("written_at", "replaced_at", "body")
    verbose_name = "previous version"
    verbose_name_plural = "previous versions (edit history)"


class ReactionInline(ReadOnlyInline):
    model = Reaction
    fields = readonly_fields = ("emoji", "user", "created_at")


@admin.register(Message)
class MessageAdmin(StaffModerates, admin.ModelAdmin):
    list_display = ("room", "seq", "author", "short_body", "created_at", "edited", "deleted")
    inlines = (MessageEditInline, ReactionInline)
    list_display_links = ("seq",)
    list_filter = (
        ("room", admin.RelatedOnlyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
        DeletedFilter,
    )
    search_fields = ("body", "author__username", "room__slug", "room__title")
    date_hierarchy = "created_at"
    list_select_related = ("room", "author")
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # no COUNT(*) over a big messages table on each page
    actions = ["delete_messages", *_user_actions(False, _message_authors)]

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body if len(message.body) <= 80 else message.body[:79] + "…"

    @admin.display(boolean=True, description="edited", ordering="edited_at")
    def edited(self, message: Message) -> bool:
        return message.edited_at is not None

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def deleted(self, message: Message) -> bool:
        return message.deleted_at is not None

    @admin.action(description="Delete the selected messages (everyone sees them vanish)")
    def delete_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        _run(
            request,
            queryset,
            lambda m: services.delete_message(
                room=m.room, actor=request.user, seq=m.seq, reason="deleted in the admin"
            ),
            "Deleted",
        )


# --- people -----------------------------------------------------------------------------


def _users_in_room(queryset: QuerySet, data: dict[str, Any]) -> list[tuple[Room, Any]]:
    return [(data["room"], user) for user in queryset]


admin.site.unregister(User)


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    actions = [*_user_actions(True, _users_in_room), "deactivate_users"]

    @admin.action(description="Deactivate the selected users (their sockets close)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run(
            request,
            queryset,
            lambda user: services.deactivate_user(actor=request.user, user=user),
            "Deactivated",
        )


@admin.register(Membership)
class MembershipAdmin(StaffModerates, admin.ModelAdmin):
    list_display = ("room", "user", "role", "joined_at", "muted_until", "banned_at")
    list_display += ("banned_until",)
    list_filter = ("role", ("room", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "room__slug", "ban_reason")
    list_select_related = ("room", "user")
    actions = ("make_moderators", "make_members", "unban", "unmute", "remove_members")

    @admin.action(description="Remove from their private rooms")
    def remove_members(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run(
            request,
            queryset.select_related("room", "user"),
            lambda m: services.remove_member(
                room=m.room, actor=request.user, user=m.user.get_username()
            ),
            "Removed",
        )

    def _each(self, request: HttpRequest, queryset: QuerySet, fn: Any, done: str, **kw: Any):
        _run(
            request,
            queryset.select_related("room", "user"),
            lambda m: fn(room=m.room, actor=request.user, user=m.user, **kw),
            done,
        )

    @admin.action(description="Make moderators of their rooms")
    def make_moderators(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.set_role, "Made moderators", role="moderator")

    @admin.action(description="Make plain members")
    def make_members(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.set_role, "Made members", role="member")

    @admin.action(description="Lift the ban")
    def unban(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.unban_user, "Unbanned")

    @admin.action(description="Lift the mute")
    def unmute(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.unmute_user, "Unmuted")


# --- reports and the audit log ----------------------------------------------------------


class OpenFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


@admin.register(Report)
class ReportAdmin(StaffModerates, admin.ModelAdmin):
    list_display = ("created_at", "room", "seq", "author", "body", "reporter", "reason", "open")
    list_filter = (OpenFilter, ("message__room", admin.RelatedOnlyFieldListFilter))
    search_fields = ("reason", "body", "reporter__username", "message__author__username")
    list_select_related = ("message__room", "message__author", "reporter")
    actions = ("resolve", "delete_and_resolve")

    @admin.display(description="room", ordering="message__room__slug")
    def room(self, report: Report) -> Room:
        return report.message.room

    @admin.display(description="seq")
    def seq(self, report: Report) -> int:
        return report.message.seq

    @admin.display(description="author")
    def author(self, report: Report) -> Any:
        return report.message.author

    @admin.display(boolean=True, description="open", ordering="resolved_at")
    def open(self, report: Report) -> bool:
        return report.resolved_at is None

    @admin.action(description="Resolve the selected reports (no action on the message)")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        _run(
            request,
            queryset,
            lambda r: services.resolve_report(report=r, actor=request.user),
            "Resolved",
        )

    @admin.action(description="Delete the reported messages and resolve the reports")
    def delete_and_resolve(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        def act(report: Report) -> None:
            message = report.message
            services.delete_message(
                room=message.room, actor=request.user, seq=message.seq, reason=report.reason
            )
            services.resolve_report(report=report, actor=request.user, note="message deleted")

        _run(request, queryset.select_related("message__room"), act, "Deleted and resolved")


@admin.register(AuditLog)
class AuditLogAdmin(StaffModerates, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "room", "target_user", "message_seq")
    list_display += ("reason", "detail")
    list_filter = ("action", ("room", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("actor__username", "target_user__username", "room__slug", "reason")
    list_select_related = ("actor", "room", "target_user")
    date_hierarchy = "created_at"
    actions = None


@admin.register(Invitation)
class InvitationAdmin(StaffModerates, admin.ModelAdmin):
    list_display = ("room", "created_by", "created_at", "expires_at", "revoked_at", "uses")
    list_select_related = ("room", "created_by")
    search_fields = ("room__slug", "created_by__username")
    actions = ("revoke",)

    @admin.action(description="Revoke the selected invitations")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        _run(
            request,
            queryset.select_related("room"),
            lambda i: services.revoke_invitation(
                room=i.room, actor=request.user, invitation_id=i.pk
            ),
            "Revoked",
        )


# --- bots and tokens ----------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(StaffModerates, admin.ModelAdmin):
    """Every user's API tokens (never the tokens themselves: only their hash is kept); staff
    revoke any of them here."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at")
    list_display += ("revoked_at",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "user__username", "prefix")
    list_select_related = ("user",)
    actions = ["revoke_tokens"]

    @admin.action(description="Revoke the selected tokens (their sockets close)")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        _run(
            request,
            queryset,
            lambda token: services.revoke_api_token(actor=request.user, token=token),
            "Revoked",
        )
