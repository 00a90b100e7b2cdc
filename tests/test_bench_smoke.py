"""The benchmark tool's tiniest run, end to end, so it cannot rot. Never asserts speed:
only that every scenario ran against the site and both references, wrote its files, and
lost nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_bench_smoke_run_writes_results(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--smoke",
            "--out",
            str(tmp_path),
            "--database-url",
            database,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "latest.md").read_text()
    assert "| burst deliveries/s | daphne |" in table

    rows = {(r["scenario"], r["target"], r["variant"]): r for r in data["results"]}
    for target in ("site", "tutorial", "bare"):
        for scenario in ("burst", "paced"):
            row = rows[(scenario, target, "")]
            assert row["deliveries"] == row["receivers"] * row["messages"], row
            assert row["lost"] == 0 and row["dup"] == 0, row
        assert rows[("idle", target, "")]["connections"] == data["config"]["idle_connections"]
    stalled = rows[("slow", "site", "stalled")]
    assert stalled["lost"] == 0 and stalled["stalled_lost"] == 0, stalled
    for size in data["config"]["history_sizes"]:
        assert rows[("history", "site", str(size))]["end_p50_ms"] > 0
    burst = next(line for line in data["summary"] if line["figure"] == "burst deliveries/s")
    assert burst["site_vs_tutorial"] is not None and burst["site_vs_bare"] is not None

    # Room life (the site only): the burst without and with churn and a typist, whose
    # frames the receivers saw and did not count as messages.
    plain, life = rows[("roomlife", "site", "plain")], rows[("roomlife", "site", "life")]
    for row in (plain, life):
        assert row["deliveries"] == row["receivers"] * row["messages"], row
        assert row["lost"] == 0 and row["dup"] == 0, row
    assert life["churn_arrivals_per_s"] > 0 and life["churn_failed"] == 0, life
    assert life["presence_per_socket"] > plain["presence_per_socket"], (plain, life)
    assert life["typing_sent"] > 0, life
    assert "| room life: burst deliveries/s, plain → life" in table

    # Version 2 at full speed: the v2 burst (home sockets, churn, a typist, Markdown)
    # against the plain one, nothing lost; and the big room (smoke: 20 sockets).
    for variant in ("plain", "v2"):
        row = rows[("v2", "site", variant)]
        assert row["deliveries"] == row["receivers"] * row["messages"], row
        assert row["lost"] == 0 and row["dup"] == 0, row
    assert rows[("v2", "site", "v2")]["homes"] == rows[("v2", "site", "v2")]["receivers"]
    big = rows[("bigroom", "site", "")]
    assert (big["joined"], big["refused"], big["dropped"]) == (big["receivers"], 0, 0), big
    assert big["alone_received"] == big["receivers"], big
    assert big["lost"] == 0 and big["dup"] == 0, big
    assert "| room of 20: join storm seconds" in table


@pytest.mark.timeout(240)
def test_bench_smoke_under_uvicorn_as_deployed(tmp_path: Path) -> None:
    """The site under uvicorn as docs/deployment.md runs it (permessage-deflate declined),
    through its own send path (chat.fanout.Connection: frames sent in place, a writer task
    only once a send waits): every payload arrives, once, in the burst and the big room."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "run", "--smoke", "--servers", "uvicorn-nodeflate"),
            *("--scenarios", "burst,slow,bigroom", "--targets", "site", "--out", str(tmp_path)),
            *("--database-url", f"sqlite:///{tmp_path / 'bench.sqlite3'}"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    rows = {
        (r["scenario"], r["variant"]): r
        for r in json.loads((tmp_path / "latest.json").read_text())["results"]
    }
    burst, big = rows[("burst", "")], rows[("bigroom", "")]
    assert burst["deliveries"] == burst["receivers"] * burst["messages"], burst
    assert burst["lost"] == 0 and burst["dup"] == 0, burst
    assert rows[("slow", "stalled")]["stalled_lost"] == 0, rows[("slow", "stalled")]
    assert big["joined"] == big["alone_received"] == big["receivers"], big
    assert big["lost"] == 0 and big["dup"] == 0, big
