from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from chat import accounts
from chat.api import api
from chat.health import healthz
from chat.metrics import metrics_view


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that link no icon (the admin's): send them to
    the SVG. Not permanent: its hashed static name changes when the file does."""
    response = redirect(static("favicon.svg"))
    response["Cache-Control"] = "max-age=86400"
    return response


reset = accounts.if_password_reset
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # The language switcher's POST (Django's set_language) and the scripts' translations.
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/signup/", accounts.signup, name="signup"),
    # django.contrib.auth.urls, spelled out: password reset only when mail can be sent.
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password_reset/",
        reset(auth_views.PasswordResetView.as_view(form_class=accounts.DeferredPasswordResetForm)),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        reset(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        reset(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        reset(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("", include("chat.urls")),
]
