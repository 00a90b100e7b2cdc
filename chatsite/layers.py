"""The channel layer's settings from the environment (see docs/deployment.md).

Kept out of settings.py so it can be tested without reloading the settings module.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryLayer

PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
CORE = "channels_redis.core.RedisChannelLayer"
MEMORY = "chatsite.layers.InMemoryChannelLayer"


class InMemoryChannelLayer(ChannelsInMemoryLayer):
    """Channels' in-memory layer (the embedded default), cleaning up expired messages and
    group memberships at most once per CLEAN_SECONDS instead of on every send and receive.

    Why: that clean-up walks every group, and the fan-out keeps one group per connected user
    (the user's stream). With 10,000 users online every group_send walked 10,000 groups,
    twice (group_send, then send), and a room's join storm, one publish per arrival, became
    quadratic: 75 % of the server's loop in the profile (docs/benchmarks.md, "A room of
    10,000"). A message past its expiry (60 s) may now wait up to CLEAN_SECONDS more before
    it is dropped."""

    CLEAN_SECONDS = 1.0
    _cleaned = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned >= self.CLEAN_SECONDS:
            self._cleaned = now
            super()._clean_expired()


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    return (host or item, int(port or 26379)) if host else (item, 26379)


def redis_hosts(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """One entry per shard: each URL of the comma-separated REDIS_URL, or each master named
    in REDIS_SENTINEL_MASTER found through the sentinels in REDIS_SENTINELS."""
    # Fail fast instead of hanging while Redis is away; the socket timeout must exceed the
    # core layer's 5 s blocking pop. The health check pings an idle pub/sub connection so a
    # connection cut without a reset is noticed.
    options: dict[str, Any] = {
        "socket_connect_timeout": float(env.get("REDIS_CONNECT_TIMEOUT") or 2),
        "socket_timeout": float(env.get("REDIS_SOCKET_TIMEOUT") or 10),
        "socket_keepalive": True,
        "health_check_interval": int(env.get("REDIS_HEALTH_CHECK_INTERVAL") or 5),
    }
    sentinels = _split(env.get("REDIS_SENTINELS", ""))
    if sentinels:
        masters = _split(env.get("REDIS_SENTINEL_MASTER", "")) or ["mymaster"]
        extra: dict[str, Any] = {}
        if env.get("REDIS_PASSWORD"):
            extra["password"] = env["REDIS_PASSWORD"]
        sentinel_kwargs = (
            {"password": env["REDIS_SENTINEL_PASSWORD"]}
            if env.get("REDIS_SENTINEL_PASSWORD")
            else None
        )
        return [
            {
                "sentinels": [_host_port(s) for s in sentinels],
                "master_name": master,
                "sentinel_kwargs": sentinel_kwargs,
                **options,
                **extra,
            }
            for master in masters
        ]
    return [{"address": url, **options} for url in _split(env.get("REDIS_URL", ""))]


def channel_layer_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """CHANNEL_LAYERS["default"] for this environment."""
    hosts = redis_hosts(env)
    capacity = int(env.get("CHANNEL_LAYER_CAPACITY") or 1000)
    if not hosts:
        return {"BACKEND": MEMORY, "CONFIG": {"capacity": capacity}}
    # A prefix of its own per site (and per test run) keeps sites sharing one Redis apart.
    prefix = env.get("CHANNEL_LAYER_PREFIX") or "chat"
    kind = (env.get("CHANNEL_LAYER") or "pubsub").strip().lower()
    if kind == "pubsub":
        return {"BACKEND": PUBSUB, "CONFIG": {"hosts": hosts, "prefix": prefix}}
    if kind in {"core", "redis"}:
        return {
            "BACKEND": CORE,
            "CONFIG": {
                "hosts": hosts,
                "prefix": prefix,
                "capacity": capacity,
                "expiry": int(env.get("CHANNEL_LAYER_EXPIRY") or 60),
                "group_expiry": int(env.get("CHANNEL_LAYER_GROUP_EXPIRY") or 86400),
            },
        }
    raise ValueError(f"CHANNEL_LAYER must be 'pubsub' or 'core', not {kind!r}")
