"""The user's settings pages: API tokens (`/settings/tokens/`): make one (shown once), see
each one's name, start, last use and expiry, revoke it."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from . import services
from .errors import ChatError
from .models import ApiToken
from .services import tokens


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=tokens.NAME_MAX,
        help_text=_("What it is for, e.g. “deploy bot” or “my laptop's terminal”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Empty: it does not expire."),
    )


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    shown: str | None = None
    status = 200
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["days"]
        expires = timezone.now() + timedelta(days=days) if days else None
        try:
            _row, shown = services.create_api_token(
                user=request.user, name=form.cleaned_data["name"], expires_at=expires
            )
        except ChatError as err:
            form.add_error("name", err.detail)
        else:
            form = TokenForm()  # the token is on the page once; a reload does not repeat it
    elif request.method == "POST":
        status = 400
    rows = ApiToken.objects.filter(user=request.user)
    context = {"form": form, "token": shown, "tokens": rows, "now": timezone.now()}
    response = render(request, "chat/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a new token must not sit in a cache
    return response


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    row = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if row is None:
        raise Http404("No such token.")
    services.revoke_api_token(actor=request.user, token=row)
    return redirect("chat:api_tokens")
