"""Deployment settings from the environment: channel layer choice, Redis shards and
Sentinel, `check --deploy`, and static files after collectstatic."""

from __future__ import annotations

import re
import secrets
import urllib.request

import pytest

from chatsite.layers import CORE, MEMORY, PUBSUB, channel_layer_from_env
from tests.support.processes import LiveServer, base_env, manage


def test_no_redis_means_in_memory_layer():
    assert channel_layer_from_env({})["BACKEND"] == MEMORY


def test_redis_url_shards_and_prefix():
    layer = channel_layer_from_env(
        {"REDIS_URL": "redis://a:6379/0, redis://b:6379/0", "CHANNEL_LAYER_PREFIX": "site1"}
    )
    assert layer["BACKEND"] == PUBSUB
    assert [h["address"] for h in layer["CONFIG"]["hosts"]] == [
        "redis://a:6379/0",
        "redis://b:6379/0",
    ]
    assert layer["CONFIG"]["prefix"] == "site1"


def test_core_layer_takes_capacity_and_expiry():
    layer = channel_layer_from_env(
        {
            "REDIS_URL": "redis://a:6379/0",
            "CHANNEL_LAYER": "core",
            "CHANNEL_LAYER_CAPACITY": "50",
            "CHANNEL_LAYER_GROUP_EXPIRY": "600",
        }
    )
    assert layer["BACKEND"] == CORE
    assert layer["CONFIG"]["capacity"] == 50
    assert layer["CONFIG"]["group_expiry"] == 600


def test_sentinel_hosts_one_shard_per_master():
    layer = channel_layer_from_env(
        {
            "REDIS_SENTINELS": "s1:26379,s2",
            "REDIS_SENTINEL_MASTER": "m1,m2",
            "REDIS_PASSWORD": "pw",
        }
    )
    hosts = layer["CONFIG"]["hosts"]
    assert [h["master_name"] for h in hosts] == ["m1", "m2"]
    assert hosts[0]["sentinels"] == [("s1", 26379), ("s2", 26379)]
    assert hosts[0]["password"] == "pw"


def test_unknown_layer_is_refused():
    with pytest.raises(ValueError):
        channel_layer_from_env({"REDIS_URL": "redis://a", "CHANNEL_LAYER": "kafka"})


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    return base_env(
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,chat.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        **extra,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = production_env(tmp_path, HTTPS="1", SECURE_PROXY_SSL_HEADER="1")
    out = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in out


@pytest.mark.e2e
@pytest.mark.slow
def test_collectstatic_then_hashed_compressed_static_files(tmp_path):
    env = production_env(tmp_path)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    assert (tmp_path / "static" / "staticfiles.json").exists()
    server = LiveServer(env, tmp_path / "daphne.log").start()
    try:
        page = urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=10).read().decode()
        hashed = re.findall(r'/static/[^"]+\.[0-9a-f]{12}\.(?:css|js)', page)
        assert hashed, "the login page links no content-hashed static file"
        request = urllib.request.Request(
            f"{server.url}{hashed[0]}", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert "max-age=315360000" in response.headers["Cache-Control"]
            assert response.headers.get("Content-Encoding") == "gzip"
    finally:
        server.stop()
