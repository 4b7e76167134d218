"""Shared test helpers: local HTTP sites on 127.0.0.1 and the newsarchive command in a subprocess."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from newsarchive.demo.server import DEMO_SITE, SiteServer

REPO = Path(__file__).resolve().parents[1]
SITES = Path(__file__).parent / "sites"
# pywb (the replay extra) installs a top-level package named "tests" (its own test suite), and a
# package beats this folder (no __init__.py) on import: "tests" must name this folder, so that
# "from tests.conftest import ..." finds these helpers.
if list(getattr(sys.modules.get("tests"), "__path__", [])) != [str(REPO / "tests")]:
    sys.modules["tests"] = types.ModuleType("tests")
    sys.modules["tests"].__path__ = [str(REPO / "tests")]
#: Crawls against 127.0.0.1 need no politeness delays.
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=INFO")


def run_newsarchive(*args: str, cwd: Path | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``python -m newsarchive.cli ARGS`` (the console script's code) and capture its output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_site():
    with SiteServer(DEMO_SITE) as server:
        yield server


@pytest.fixture
def bad_site():
    with SiteServer(SITES / "bad_input") as server:
        yield server
