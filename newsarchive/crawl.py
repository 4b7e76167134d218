"""Run a crawl in this process: the code behind ``newsarchive crawl`` and ``newsarchive demo``."""
from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ArchiveLocked(RuntimeError):
    """Another crawl is writing the same archive."""


@contextmanager
def archive_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold ``DB.lock`` for the duration of a crawl; refuse (ArchiveLocked) if another process holds it.

    The lock is an flock: the kernel releases it when the holder dies, even on SIGKILL.
    """
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ArchiveLocked(f"{db_path} is being written by {holder}; not starting a second crawl") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield lock_path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def project_settings(overrides: dict[str, Any] | None = None):
    """newsarchive's Scrapy settings, wherever the command is run from, with ``overrides``."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsarchive.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def spider_for(site: str, settings) -> tuple[type, dict[str, str]]:
    """The spider class and arguments for ``site``: a spider name, a bundled profile or a profile file."""
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.profiles import load_profile

    loader = SpiderLoader.from_settings(settings)
    if site in loader.list():
        return loader.load(site), {}
    load_profile(site)  # raises ProfileError with the list of bundled profiles
    return loader.load("news"), {"profile": site}


def run_crawl(site: str, *, settings_overrides: dict[str, Any] | None = None,
              spider_args: dict[str, str] | None = None) -> dict[str, Any]:
    """Crawl ``site`` to the end and return the crawl's final stats (``finish_reason`` included)."""
    from scrapy.crawler import CrawlerProcess

    settings = project_settings(settings_overrides)
    spidercls, args = spider_for(site, settings)
    args.update(spider_args or {})
    with archive_lock(settings.get("NEWSARCHIVE_DB")):
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(spidercls)
        process.crawl(crawler, **args)
        process.start()
    return crawler.stats.get_stats()
