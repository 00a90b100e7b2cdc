"""/metrics as Prometheus scrapes it: protected, parseable, and counting what happens
(posts, deliveries, open sockets, refusals, closes); and, on two server processes sharing a
PROMETHEUS_MULTIPROC_DIR, the sum of both during a burst."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.live import ws_connect
from tests.scale import cluster_env, start_servers
from tests.support.accounts import PASSWORD, create_users, login


def scraped(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a /metrics page."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_are_for_the_allowed_only(settings):
    settings.CHAT_METRICS_TOKEN = "s3cret-scrape"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 403
    far = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    response = far.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    wrong = Client(REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer wrong")
    assert wrong.get("/metrics").status_code == 403  # a wrong token is no token
    settings.CHAT_METRICS_ALLOW = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200


def _scrape() -> dict:
    return scraped(Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode())


async def test_posts_deliveries_sockets_and_refusals_are_counted(open_chat, alice, bob):
    from channels.db import database_sync_to_async

    before = await database_sync_to_async(_scrape)()
    mine = await open_chat(alice)
    await mine.recv_type("welcome")
    theirs = await open_chat(bob)
    await theirs.recv_type("welcome")
    during = await database_sync_to_async(_scrape)()
    rooms = ("chat_sockets_open", {"kind": "room"})
    assert value(during, rooms[0], **rooms[1]) - value(before, rooms[0], **rooms[1]) == 2
    await mine.send({"type": "message", "body": "counted"})
    await mine.recv_type("message")
    await theirs.recv_type("message")
    await mine.send({"type": "message", "body": ""})
    await mine.recv_type("error")
    after = await database_sync_to_async(_scrape)()
    assert value(after, "chat_posts_stored_total") - value(before, "chat_posts_stored_total") == 1
    delivered = value(after, "chat_deliveries_total") - value(before, "chat_deliveries_total")
    assert delivered == 2  # one message, two sockets
    refused = ("chat_refused_frames_total", {"code": "empty"})
    assert value(after, refused[0], **refused[1]) - value(before, refused[0], **refused[1]) == 1
    stored = value(after, "chat_post_seconds_count", stage="stored")
    assert stored - value(before, "chat_post_seconds_count", stage="stored") == 1
    await mine.close()
    await theirs.close()


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.postgres
async def test_two_processes_report_their_sum_during_a_burst(pg_database, redis_server, tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = cluster_env(
        pg_database,
        redis_server.url,
        f"metrics{redis_server.port}",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    create_users(env, "alice", "bob")
    one, two = start_servers(env, tmp_path, 2)
    try:
        alice = await asyncio.to_thread(login, one.url, "alice", PASSWORD)
        bob = await asyncio.to_thread(login, two.url, "bob", PASSWORD)
        sender = await ws_connect(one, "burst", alice)
        receiver = await ws_connect(two, "burst", bob)
        for ws in (sender, receiver):
            assert json.loads(await ws.recv())["type"] == "welcome"
        count, seen, mid = 200, 0, None
        for i in range(count):
            await sender.send(json.dumps({"type": "message", "body": f"burst {i}"}))
        while seen < count:
            frame = json.loads(await asyncio.wait_for(receiver.recv(), 15))
            if frame["type"] == "message":
                seen += 1
                if seen == count // 2:  # scraped during the burst, from either process
                    mid = await asyncio.to_thread(_scrape_url, two.url)
        assert mid is not None and value(mid, "chat_sockets_open", kind="room") == 2
        # Both processes' figures, summed, whichever one is asked: every post was stored by
        # process one; each message was delivered to one socket on each process.
        for server in (one, two):
            end = await asyncio.to_thread(_scrape_url, server.url)
            assert value(end, "chat_posts_stored_total") == count
            assert value(end, "chat_deliveries_total") >= 2 * count
            assert value(end, "chat_post_seconds_count", stage="published") >= 1
        await sender.close()
        await receiver.close()
    finally:
        for server in (one, two):
            server.stop()


def _scrape_url(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return scraped(response.read().decode())
