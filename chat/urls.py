from django.urls import path

from . import invitations, views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    # Matched loosely and checked by the view, so a bad name is a clean 404.
    path("chat/<str:room>/", views.room, name="room"),
    path("invite/<str:token>/", invitations.invitation, name="invitation"),
]
