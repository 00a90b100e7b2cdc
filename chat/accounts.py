"""Accounts: sign-up (refusing usernames that pass for someone else's), the login page, the
login lockout page, and password reset for sites that can send mail.

Look-alikes (finding 9) are judged with confusable-homoglyphs' copy of Unicode's data
(confusables.txt and the script of every character), in two ways:

- a name that mixes writing systems where one of its letters passes for a letter of the
  other (a Cyrillic a, U+0430, in "alice") is refused on its own, whether or not "alice"
  exists;
- a name whose skeleton (each character replaced by one representative of the characters
  that look like it, compared case-insensitively) equals an existing user's is refused:
  "cope" spelt in Cyrillic letters, or "c0pe", next to "cope"; "AIice" (a capital i) or
  "a1ice" next to "alice".
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from functools import cache, wraps
from typing import Any

from confusable_homoglyphs import categories, confusables
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models.functions import Length
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from . import ratelimit
from .errors import RateLimited

log = logging.getLogger("chat.accounts")

# --- look-alike usernames ---------------------------------------------------------------

# Characters every script uses (digits, punctuation, combining marks): not a script of
# their own when judging a mix. Their look-alikes (0 for O) are the skeleton's business.
_SHARED = {"COMMON", "INHERITED"}
# Writing systems that are written mixed as a matter of course: Japanese is kanji, hiragana
# and katakana together (and へ/ヘ look alike by design); Korean mixes hangul and hanja.
_WRITING_SYSTEM = {
    "HAN": "CJK",
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "HANGUL": "CJK",
    "BOPOMOFO": "CJK",
}


def _system(alias: str) -> str:
    return _WRITING_SYSTEM.get(alias, alias)


def disguising_character(name: str) -> str | None:
    """The first character of `name` that comes from another writing system than the rest
    and looks like one of their letters (a Cyrillic a in "alice"), else None."""
    scripts = categories.unique_aliases(name) - _SHARED
    if len({_system(s) for s in scripts}) < 2:
        return None
    for script in sorted(scripts):
        found = confusables.is_confusable(name, greedy=True, preferred_aliases=[script])
        for item in found or []:
            if item["alias"] not in _SHARED and _system(item["alias"]) != _system(script):
                return item["character"]
    return None


def _rank(char: str) -> tuple[int, int]:
    """Which character of a look-alike group stands for the group: an ASCII lowercase
    letter, else an uppercase one, a digit, other ASCII, then the lowest code point."""
    if "a" <= char <= "z":
        kind = 0
    elif "A" <= char <= "Z":
        kind = 1
    elif "0" <= char <= "9":
        kind = 2
    elif char.isascii():
        kind = 3
    else:
        kind = 4
    return kind, ord(char)


@cache
def _representatives() -> dict[str, str]:
    """Character -> the representative of every character it can be mistaken for, from the
    library's confusables (only the one-character ones: each name keeps its length)."""
    parent: dict[str, str] = {}

    def find(char: str) -> str:
        parent.setdefault(char, char)
        while parent[char] != char:
            parent[char] = parent[parent[char]]
            char = parent[char]
        return char

    for char, glyphs in confusables.confusables_data.items():
        for glyph in glyphs:
            other = glyph["c"].strip("\u200e")  # right-to-left glyphs come wrapped in LRMs
            if len(char) == 1 and len(other) == 1:
                a, b = find(char), find(other)
                if a != b:
                    keep, drop = sorted((a, b), key=_rank)
                    parent[drop] = keep
    return {char: find(char) for char in parent}


def _lower(char: str) -> str:
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def skeleton(name: str) -> str:
    """What `name` looks like, case aside: equal skeletons read alike ("cope", "COPE",
    "c0pe" and "cope" in Cyrillic letters all give "cope"). One character out per one in."""
    reps = _representatives()
    name = unicodedata.normalize("NFKC", name)
    once = "".join(reps.get(c, c) for c in name)
    # Lowercase, then look again: "I" stands for "l" and "O" for "o" only once lowered.
    return "".join(reps.get(c, c) for c in map(_lower, once))


def lookalike_of(name: str) -> str | None:
    """An existing username that reads like `name`, else None. Skeletons keep the length,
    so only usernames of the same length are compared."""
    wanted = skeleton(name)
    users = get_user_model().objects.alias(length=Length("username")).filter(length=len(name))
    for username in users.values_list("username", flat=True).iterator():
        if skeleton(username) == wanted:
            return username
    return None


class SignupForm(UserCreationForm):
    """Django's sign-up form (which refuses a name differing only in case from an existing
    one) that also refuses names made to pass for someone else's."""

    error_messages = {
        **UserCreationForm.error_messages,
        "mixed_scripts": _(
            "This username mixes letters from different alphabets that look alike "
            "(“%(character)s” is one). Please use the letters of one alphabet."
        ),
        "lookalike": _(
            "This username looks too much like the existing user “%(existing)s”. "
            "Please choose another."
        ),
    }

    def clean_username(self) -> str | None:
        username = super().clean_username()
        if not username:  # refused already (a duplicate)
            return username
        character = disguising_character(username)
        if character is not None:
            raise ValidationError(
                self.error_messages["mixed_scripts"],
                code="mixed_scripts",
                params={"character": character},
            )
        existing = lookalike_of(username)
        if existing is not None:
            raise ValidationError(
                self.error_messages["lookalike"], code="lookalike", params={"existing": existing}
            )
        return username


def _next_url(request: HttpRequest) -> str:
    """The ?next= target when it is a safe local URL, else the room list."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("chat:index")


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and log straight in."""
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # A named backend: the first one (axes') only watches logins, it logs no one in.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_next_url(request))
    return render(request, "registration/signup.html", {"form": form, "next": _next_url(request)})


# --- login ------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login view; the page links to password reset only when it works."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_reset_enabled"] = settings.PASSWORD_RESET_ENABLED
        return context


def locked_out(request: HttpRequest, *args: Any) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): the site's page, 429, and when
    to come back. Axes passes (request, response, credentials), or fewer: none is needed."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request, "registration/locked_out.html", {"minutes": max(1, seconds // 60)}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response


# --- password reset ---------------------------------------------------------------------

# One thread sends the reset mails, after the response: the answer is the same, in content
# and in time, whether or not the address has an account, and a slow or absent mail server
# never holds a request thread (under ASGI, Django's sync views share one thread).
_mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-reset-mail")
_pending: set[Future[None]] = set()
_pending_lock = threading.Lock()


def wait_for_mail(timeout: float | None = None) -> None:
    """Wait until the reset mails queued so far have been sent (or failed)."""
    with _pending_lock:
        pending = list(_pending)
    wait_futures(pending, timeout=timeout)


class DeferredPasswordResetForm(PasswordResetForm):
    """PasswordResetForm whose save() only queues the work: looking the address up and
    sending the mail both happen on the mail thread."""

    def save(self, domain_override: str | None = None, **kwargs: Any) -> None:
        request = kwargs.pop("request", None)
        try:
            ratelimit.take_reset_mail(self.cleaned_data["email"])
        except RateLimited:
            # The same answer as ever (it must not tell whether the address has an
            # account), and no mail: the address had its share for now.
            log.warning("password reset mail not sent: rate limited")
            return
        if domain_override is None and request is not None:
            # What save() would take from the request (no sites framework: the Host),
            # taken now, so the mail thread needs no request.
            domain_override = get_current_site(request).domain
        future = _mailer.submit(self._send, domain_override, kwargs)
        with _pending_lock:
            _pending.add(future)
        future.add_done_callback(self._done)

    def _send(self, domain_override: str | None, kwargs: dict[str, Any]) -> None:
        try:
            super().save(domain_override=domain_override, **kwargs)
        except Exception:
            log.exception("password reset mail failed")
        finally:
            connections.close_all()  # this thread's own connections; no request closes them

    @staticmethod
    def _done(future: Future[None]) -> None:
        with _pending_lock:
            _pending.discard(future)


def if_password_reset(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 unless the site can send mail (settings.PASSWORD_RESET_ENABLED), checked on
    every request."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset is not available.")
        return view(request, *args, **kwargs)

    return wrapper
