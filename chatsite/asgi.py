"""ASGI entry point: HTTP goes to Django, WebSockets through the origin check (chat.origin
says why not Channels' AllowedHostsOriginValidator), session auth (chatsite.auth says why
not Channels' AuthMiddlewareStack) and the chat routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Set up Django (apps, settings) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter

from chat.origin import OriginValidator
from chat.routing import websocket_urlpatterns
from chatsite.auth import SessionAuthMiddleware

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(SessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
