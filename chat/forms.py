"""Forms of the chat's pages (sign-up lives in chat.accounts)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import protocol, search, services
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


class SearchForm(forms.Form):
    """The search page's question (chat/search.py says what each part means)."""

    q = forms.CharField(label=_("Search"), max_length=search.QUERY_MAX, required=False)
    room = forms.CharField(label=_("In room"), max_length=50, required=False)
    user = forms.CharField(label=_("From"), max_length=150, required=False)
    after = forms.DateField(
        label=_("After"), required=False, widget=forms.DateInput({"type": "date"})
    )
    before = forms.DateField(
        label=_("Before"), required=False, widget=forms.DateInput({"type": "date"})
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        choices=[("newest", _("Newest first")), ("relevance", _("Best match first"))],
        required=False,
    )

    def clean_q(self) -> tuple[search.Term, ...] | None:
        text = self.cleaned_data["q"]
        if not text.strip():
            return None  # the empty page: a form, no error
        try:
            return search.parse_terms(text)
        except search.QueryError as err:
            raise forms.ValidationError(str(err)) from err

    def query(self) -> search.Query | None:
        """The question, once the form is valid and asks one."""
        data = self.cleaned_data
        if not data.get("q"):
            return None
        return search.Query(
            terms=data["q"],
            room=protocol.normalize_slug(data["room"]) if data["room"] else None,
            user=data["user"].strip() or None,
            after=data["after"],
            before=data["before"],
            relevance=data["sort"] == "relevance",
        )
