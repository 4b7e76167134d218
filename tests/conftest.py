"""Shared test helpers: local HTTP sites on 127.0.0.1 and the newsarchive command in a subprocess."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from newsarchive.demo.server import DEMO_SITE, SiteServer

REPO = Path(__file__).resolve().parents[1]
SITES = Path(__file__).parent / "sites"
#: Crawls against 127.0.0.1 need no politeness delays.
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=INFO")


def run_newsarchive(*args: str, cwd: Path | None = None, timeout: int = 240,
                    env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m newsarchive.cli ARGS`` (the console script's code) and capture its output;
    ``env`` is added to this process's environment."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` (a server stopped has let it go)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
