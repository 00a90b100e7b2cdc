"""Settings for the chat site.

Everything that differs between a laptop and a deployment comes from the environment
(see docs/deployment.md). With only DEBUG=1 set, the site runs on SQLite and Channels'
in-memory layer, with no services at all; with DEBUG off it needs a SECRET_KEY.
"""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from chatsite.layers import channel_layer_from_env

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def local_secret_key(path: Path) -> str:
    """This install's own development key, made on first use and kept in `path` (mode
    0600, gitignored): sessions survive restarts, and no two installs share a key."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = None
    if key is None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(50) + "\n")
            # link() is atomic and refuses an existing name: when processes start at once,
            # the first one's key is everyone's.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it and start again.")
    return key


# Development is explicit: DEBUG is off unless DEBUG=1. Off, SECRET_KEY is required (no
# key is better than a public one); on, a missing key means this install's own.
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment (50+ random "
            "characters), or DEBUG=1 for local development."
        )
    SECRET_KEY = local_secret_key(BASE_DIR / ".secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Daphne first: its runserver serves ASGI, WebSockets included.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "csp",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common: the language from the set_language cookie, else
    # Accept-Language (English and Japanese, LANGUAGES below).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a login refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "chatsite.asgi.application"

# Database: DATABASE_URL (PostgreSQL in production), else a SQLite file.
# PostgreSQL: no persistent connections (CONN_MAX_AGE=0), since under ASGI each
# sync_to_async thread would keep its own forever; psycopg 3's pool instead (Django docs,
# "Connection pool"): one pool per process, shared by those threads. CONN_HEALTH_CHECKS
# makes Django test a kept connection before reusing it, so a restart costs no failed request.
# SQLite: persistent connections. Django's connections are thread-local and every
# database_sync_to_async call of the WebSocket path runs on asgiref's one shared thread, so
# this is one connection per process; opening the file and checkpointing the WAL on every
# close cost about two thirds of a post (see docs/benchmarks.md). Request threads' own
# connections close when their thread ends.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("SQLITE_CONN_MAX_AGE", 600)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # IMMEDIATE takes the write lock at BEGIN, so taking the next seq and inserting
            # the message cannot interleave with another writer, even in another process.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_POOL", default=True
):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
        # Seconds a request waits for a connection before failing (then /healthz says 503
        # and a post gets `unavailable`), rather than hanging while the database is away.
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 5.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    pg_options.setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
    # A transaction stuck holding a room's row lock must not hang that room's posts: they
    # fail after this many ms and the client gets `unavailable` and retries.
    pg_options.setdefault(
        "options", f"-c lock_timeout={env_int('DATABASE_LOCK_TIMEOUT_MS', 10000)}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: channels-redis when REDIS_URL (or REDIS_SENTINELS) is set, else
# in-process memory. See docs/deployment.md for why the pub/sub layer is the default.
CHANNEL_LAYERS = {"default": channel_layer_from_env(os.environ)}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes, docs/deployment.md): after AXES_FAILURE_LIMIT wrong
# passwords for one username from one IP address, that pair is refused (429, the lockout
# page) for the cool-off; the same username from elsewhere, or another username from that
# address, still logs in, so an attacker cannot lock a victim out everywhere. A success
# clears the pair's failures. Successful logins never count. The client address is
# REMOTE_ADDR: behind a proxy, run daphne/uvicorn with --proxy-headers (docs/deployment.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked pair before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "chat.accounts.locked_out"

# Email. Password reset is offered only when mail can be sent: EMAIL_HOST set (Django's
# SMTP backend), or PASSWORD_RESET=1 with another EMAIL_BACKEND (e.g. the console one).
# Otherwise its URLs are 404 and the login page does not link to it.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # a hung mail server must not hold a thread
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "webmaster@localhost"
PASSWORD_RESET_ENABLED = env_bool("PASSWORD_RESET", default=bool(os.environ.get("EMAIL_HOST")))

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# In development whitenoise serves straight from static/ (no collectstatic needed). In
# production `manage.py collectstatic` writes compressed, content-hashed files that
# whitenoise serves with far-future cache headers (chatsite/staticfiles.py).
STATIC_MANIFEST = STATIC_ROOT / "staticfiles.json"
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_MANIFEST.exists()
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "chatsite.staticfiles.StaticStorage"
    },
}

# HTTPS=1 behind TLS (what `manage.py check --deploy` asks for): HTTPS redirect, secure
# cookies, HSTS. Off unless set, so a DEBUG-off server on plain HTTP (benchmarks, tests)
# still works. Behind a TLS-terminating proxy, also set SECURE_PROXY_SSL_HEADER=1 and make
# the proxy set X-Forwarded-Proto (docs/nginx.conf does).
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=HTTPS)
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check is for load balancers and probes, which speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]


def socket_sources(hosts: list[str], https: bool) -> list[str]:
    """CSP sources for WebSockets to the site's own hosts (any port). 'self' covers them in
    browsers that follow CSP 3 (Chromium, current Firefox and Safari); older Safari wanted
    them spelled out. "*" and IPv6 literals (which CSP cannot name) are left to 'self'."""
    schemes = ["wss"] if https else ["ws", "wss"]
    names: list[str] = []
    for host in hosts:
        if host == "*" or ":" in host or "[" in host:
            continue
        # ".example.com" in ALLOWED_HOSTS is the domain and its subdomains.
        names += [host[1:], f"*{host}"] if host.startswith(".") else [host]
    return [f"{scheme}://{name}:*" for name in names for scheme in schemes]


# Content-Security-Policy (django-csp): scripts, styles and everything else from the site
# only; no inline script or style (the pages' only inline <script>s are json_script data,
# type application/json, which browsers never run), nothing framed, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, *socket_sources(ALLOWED_HOSTS, HTTPS)],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
    }
}

# Chat settings (documented in docs/protocol.md).
# Rooms are created on purpose, by the room list's form (a POST); with this on, the first
# visit to an unknown room's URL or socket creates it, as in the Channels tutorial.
CHAT_AUTO_CREATE_ROOMS = env_bool("CHAT_AUTO_CREATE_ROOMS", default=False)
# Rooms one user may create: a burst, then this many per hour (chat/ratelimit.py buckets).
CHAT_ROOM_CREATE_BURST = env_int("CHAT_ROOM_CREATE_BURST", 5)
CHAT_ROOM_CREATE_PER_HOUR = env_float("CHAT_ROOM_CREATE_PER_HOUR", 20)
# Origins a browser's WebSocket handshake may come from (chat/origin.py), e.g.
# "https://chat.example.com". Empty: the site's own origin, the scheme HTTPS implies
# (https or http) and the Host of the handshake, which must be in ALLOWED_HOSTS.
CHAT_ALLOWED_ORIGINS = env_list("CHAT_ALLOWED_ORIGINS", "")
CHAT_MAX_MESSAGE_LENGTH = int(os.environ.get("CHAT_MAX_MESSAGE_LENGTH", "4000"))
CHAT_MAX_FRAME_BYTES = 64 * 1024
# Per-user message rate limit (chat/ratelimit.py): a burst, then a steady rate per second
# (0 turns it off). Shared by all processes through the first REDIS_URL when one is set.
CHAT_RATE_LIMIT_BURST = env_int("CHAT_RATE_LIMIT_BURST", 10)
CHAT_RATE_LIMIT_PER_SECOND = float(os.environ.get("CHAT_RATE_LIMIT_PER_SECOND") or 1)
CHAT_RATE_LIMIT_REDIS_URL = (os.environ.get("REDIS_URL") or "").split(",")[0].strip()
CHAT_RATE_LIMIT_KEY_PREFIX = (os.environ.get("CHANNEL_LAYER_PREFIX") or "chat") + ":rl:"
# How often each process renews its channel-layer groups and catches rooms up from the
# database (chat/fanout.py): the longest a message lost by the layer waits to be delivered.
CHAT_FANOUT_REFRESH_SECONDS = env_float("CHAT_FANOUT_REFRESH_SECONDS", 5.0)
# Room life (chat/presence.py, docs/protocol.md "Presence and typing"). A process that dies
# without closing its sockets drops out of presence within the TTL plus a renewal (TTL/3).
CHAT_PRESENCE_TTL_SECONDS = env_float("CHAT_PRESENCE_TTL_SECONDS", 30.0)
CHAT_PRESENCE_REDIS_URL = CHAT_RATE_LIMIT_REDIS_URL
CHAT_PRESENCE_KEY_PREFIX = (os.environ.get("CHANNEL_LAYER_PREFIX") or "chat") + ":presence:"
CHAT_TYPING_INTERVAL_SECONDS = env_float("CHAT_TYPING_INTERVAL_SECONDS", 1.0)
# A user whose last socket in a room closed stays present this long (a reload or reconnect
# flashes nothing; a socket opened and closed in a loop floods nobody).
CHAT_PRESENCE_GRACE_SECONDS = env_float("CHAT_PRESENCE_GRACE_SECONDS", 2.0)
# Unread counts after new messages reach a user's other sockets at most this often per
# room (chat/fanout.py coalesces them); a read reaches them at once.
CHAT_UNREAD_INTERVAL_SECONDS = env_float("CHAT_UNREAD_INTERVAL_SECONDS", 1.0)
# Rich messages (docs/protocol.md "Rich messages"): how long an author may edit a message
# after posting it; 0 means always.
CHAT_EDIT_WINDOW_SECONDS = env_int("CHAT_EDIT_WINDOW_SECONDS", 3600)
# Retention (docs/search.md): `manage.py purge_messages` removes messages older than this
# many days; a room's own retention_days (the admin) wins. Empty or 0: keep everything.
CHAT_RETENTION_DAYS = env_int("CHAT_RETENTION_DAYS", 0) or None
# Searches and transcript downloads per user (chat/ratelimit.py): a burst, then a rate.
CHAT_SEARCH_BURST = env_int("CHAT_SEARCH_BURST", 10)
CHAT_SEARCH_PER_MINUTE = env_float("CHAT_SEARCH_PER_MINUTE", 30)
CHAT_EXPORT_BURST = env_int("CHAT_EXPORT_BURST", 5)
CHAT_EXPORT_PER_HOUR = env_float("CHAT_EXPORT_PER_HOUR", 20)
# Password reset mails per address, whoever asks for them: a burst, then a rate. Past it
# the form answers as always ("check your inbox") and sends nothing.
CHAT_RESET_MAIL_BURST = env_int("CHAT_RESET_MAIL_BURST", 3)
CHAT_RESET_MAIL_PER_HOUR = env_float("CHAT_RESET_MAIL_PER_HOUR", 3)
# /metrics (chat/metrics.py): for a Prometheus that sends this bearer token, or scrapes
# from one of these addresses or networks. Behind a proxy, use the token.
CHAT_METRICS_TOKEN = os.environ.get("CHAT_METRICS_TOKEN", "")
CHAT_METRICS_ALLOW = env_list("CHAT_METRICS_ALLOW", "127.0.0.1,::1")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "chat": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # With DEBUG off Django's own console logging is silent: without these, a 500's
        # traceback, a failed password reset mail and a login lockout would go unseen.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.contrib.auth": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
