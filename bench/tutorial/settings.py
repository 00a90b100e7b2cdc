"""Settings for the tutorial-shaped baseline: the site's channel layer, nothing else."""

import os

from chatsite.layers import channel_layer_from_env

SECRET_KEY = "bench-tutorial-baseline"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
INSTALLED_APPS = ["channels"]
DATABASES: dict = {}
ASGI_APPLICATION = "bench.tutorial.asgi.application"
USE_TZ = True

# The very channel layer the site gets from the same environment (in-memory, or Redis
# pub/sub or core), so the comparison is between consumers, not layers.
CHANNEL_LAYERS = {"default": channel_layer_from_env(os.environ)}
