from django.urls import path

from . import history, invitations, settings_views, views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    # Matched loosely and checked by the view, so a bad name is a clean 404.
    path("chat/<str:room>/", views.room, name="room"),
    path("chat/<str:room>/export.json", history.export_room, {"fmt": "json"}, name="export_json"),
    path("chat/<str:room>/export.txt", history.export_room, {"fmt": "text"}, name="export_text"),
    path("search/", history.search_page, name="search"),
    path("settings/tokens/", settings_views.api_tokens, name="api_tokens"),
    path(
        "settings/tokens/<int:pk>/revoke/",
        settings_views.revoke_api_token,
        name="revoke_api_token",
    ),
    path("invite/<str:token>/", invitations.invitation, name="invitation"),
]
