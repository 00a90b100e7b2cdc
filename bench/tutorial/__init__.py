"""The Channels tutorial's chat consumer, as the baseline: group_send of {"message": ...},
no persistence, no authentication. Its own settings and ASGI module keep it apart from the
site."""
