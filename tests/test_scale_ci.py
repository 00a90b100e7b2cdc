"""Under CI=true a test that needs Redis, PostgreSQL or the browser must fail, not skip."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import ROOT

SKIPPING_TEST = """
import pytest

@pytest.mark.redis
def test_needs_redis():
    pytest.skip("redis-server is not installed")

def test_plain():
    pytest.skip("nothing to do with services")
"""


def run_pytest(tmp_path, ci: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_skips.py"
    test.write_text(SKIPPING_TEST)
    env = {**os.environ, "CI": ci}
    config = ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    plugins = ["-p", "tests.conftest", "-p", "no:cacheprovider"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, *config, "-q", "-rA", str(test)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_turns_a_skipped_service_test_into_a_failure(tmp_path):
    done = run_pytest(tmp_path, "true")
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 skipped" in done.stdout, done.stdout
    assert "skipped under CI=true, but it needs redis" in done.stdout


def test_without_ci_it_skips(tmp_path):
    done = run_pytest(tmp_path, "")
    assert done.returncode == 0, done.stdout
    assert "2 skipped" in done.stdout, done.stdout
