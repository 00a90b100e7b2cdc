"""Prometheus metrics (`/metrics`, docs/deployment.md "Metrics and alerts").

One registry of figures an operator watches, counted where they happen (the fan-out, the
post path, the consumer). With several server processes, set PROMETHEUS_MULTIPROC_DIR to
an empty directory shared by them (cleared before they start): prometheus-client then
keeps each process's figures in files there and `/metrics`, served by any process, sums
them. Without it, each process reports its own.

Counting is cheap and never per delivery: a message fanned out to 1,000 sockets is one
`inc(1000)`.
"""

from __future__ import annotations

import atexit
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

SOCKETS = Gauge(
    "chat_sockets_open",
    "WebSocket connections open (room and home sockets)",
    ["kind"],
    multiprocess_mode="livesum",
)
POSTS = Counter("chat_posts_stored", "Messages stored")
DELIVERIES = Counter("chat_deliveries", "Message frames handed to sockets")
POST_SECONDS = Histogram(
    "chat_post_seconds",
    "A post's time from its frame's handling to `stage` (stored: committed; published: "
    "handed to the channel layer)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REFUSED = Counter("chat_refused_frames", "Commands answered with an error frame", ["code"])
CLOSES = Counter("chat_closes", "Sockets closed by the server after the handshake", ["code"])
GAP_FILLS = Counter("chat_gap_fills", "Pages of messages read from the database to fill a gap")
CATCH_UPS = Counter("chat_catch_ups", "Rooms caught up from the database by the refresh")
LAYER_ERRORS = Counter("chat_channel_layer_errors", "Channel layer calls that failed")
DATABASE_ERRORS = Counter("chat_database_errors", "Commands that failed on the database")


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _mark_dead() -> None:  # a process that exits takes its open sockets with it
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


atexit.register(_mark_dead)


def allowed(request: HttpRequest) -> bool:
    """CHAT_METRICS_TOKEN as a bearer token, or a client address in CHAT_METRICS_ALLOW."""
    token = settings.CHAT_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return constant_time_compare(header[7:].strip(), token)
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed_net in settings.CHAT_METRICS_ALLOW:
        try:
            if address in ipaddress.ip_network(allowed_net, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
