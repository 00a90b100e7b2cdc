"""Forms of the site's pages. Sign-up uses Django's own UserCreationForm as it is."""

from __future__ import annotations

from django import forms

from . import protocol


class RoomForm(forms.Form):
    """Create (or open) a room by name. The name is the room's slug, as in its URL."""

    name = forms.CharField(
        label="Room name",
        max_length=50,
        help_text="1 to 50 letters, digits, hyphens or underscores.",
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. lobby", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def clean_name(self) -> str:
        slug = protocol.normalize_slug(self.cleaned_data["name"].strip())
        if slug is None:
            raise forms.ValidationError(
                "Use 1 to 50 ASCII letters, digits, hyphens (-) or underscores (_); "
                "no spaces or other characters."
            )
        return slug
