"""The site's settings for a test run (pytest's DJANGO_SETTINGS_MODULE, pyproject.toml).

The settings refuse to load with DEBUG off and no SECRET_KEY, and pytest-django loads them
before any conftest.py runs, so the key is set here: a random one per run unless the
environment has one (tests/run.sh exports one for both passes). It goes into os.environ,
so every server process the tests start (tests/support/processes.py base_env copies the
environment) shares it: a session made by one process is valid in the others.
"""

import os
import secrets
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-" + secrets.token_urlsafe(50))

from chatsite.settings import *  # noqa: F403

# Tests serve static files from static/ (no collectstatic). An existing, empty STATIC_ROOT
# spares every request handler whitenoise's "No directory at" warning.
STATIC_ROOT = Path(tempfile.gettempdir()) / "chatsite-tests-static"
STATIC_ROOT.mkdir(exist_ok=True)
