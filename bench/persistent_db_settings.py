"""bench.site_settings plus persistent database connections: measures what
CONN_MAX_AGE would give (see docs/benchmarks.md). Not what the site runs unless its
settings adopt it."""

from bench.site_settings import *  # noqa: F403
from bench.site_settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
