"""Extraction functions for the pool's tests (``-s NEWSARCHIVE_EXTRACT_FUNCTION=tests.extract_hooks.NAME``).

They run in the pool's worker processes: each records which process extracted which page, and
pages named ``crash`` or ``hang`` kill or hang the worker, as a crash in a C library or a
pathological page would.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from newsarchive.extract import extract_article
from newsarchive.items import Article

#: Folder the hook writes one ``PID-N`` file per page into (the test sets it).
PID_DIR_VARIABLE = "NEWSARCHIVE_TEST_PID_DIR"
#: Longer than any test's time limit.
HANG_SECONDS = 600


def recording_extract(url: str, body: bytes, *, site: str | None = None, encoding: str | None = None) -> Article:
    """extract_article, after noting (worker pid, parent pid, url); ``crash`` and ``hang`` pages misbehave."""
    if folder := os.environ.get(PID_DIR_VARIABLE):
        record = Path(folder) / f"{os.getpid()}-{time.monotonic_ns()}"
        record.write_text(f"{os.getpid()} {os.getppid()} {url}\n", encoding="utf-8")
    name = url.rsplit("/", 1)[-1]
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    if name.startswith("hang"):
        time.sleep(HANG_SECONDS)
    return extract_article(url, body, site=site, encoding=encoding)
