"""Forms of the chat's pages (sign-up lives in chat.accounts)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import services
from .errors import ChatError


class RoomForm(forms.Form):
    """Create a room: a title in any script; the server derives the room's address."""

    title = forms.CharField(
        label=_("New room"),
        max_length=services.TITLE_MAX,
        help_text=_("A title in any language, e.g. “Design Review” or “設計レビュー”."),
        widget=forms.TextInput(attrs={"placeholder": _("Room title"), "autocomplete": "off"}),
    )

    private = forms.BooleanField(
        label=_("Private"),
        required=False,
        help_text=_("Only the people you invite can see a private room."),
    )

    def clean_title(self) -> str:
        try:
            return services.clean_title(self.cleaned_data["title"])
        except ChatError as err:
            raise forms.ValidationError(err.detail) from err
