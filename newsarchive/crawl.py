"""Run a crawl in this process: the code behind ``newsarchive crawl`` and ``newsarchive demo``."""
from __future__ import annotations

import logging
import os
from typing import Any

from newsarchive.store.lock import ArchiveLocked, archive_lock

__all__ = ["ArchiveLocked", "archive_lock", "project_settings", "run_crawl", "spider_for"]

logger = logging.getLogger(__name__)


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
    with archive_lock(settings.get("NEWSARCHIVE_DB")):  # refuse early, before Scrapy starts
        pass
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spidercls)
    process.crawl(crawler, **args)
    process.start()
    return crawler.stats.get_stats()
