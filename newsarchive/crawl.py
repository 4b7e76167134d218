"""Run a crawl in this process: the code behind ``newsarchive crawl`` and ``newsarchive demo``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from newsarchive.store.lock import ArchiveLocked, archive_lock

__all__ = [
    "ArchiveLocked",
    "CrawlPlan",
    "UnknownSite",
    "archive_lock",
    "crawl_outcome",
    "plan_crawl",
    "project_settings",
    "run_crawl",
    "spider_for",
]

logger = logging.getLogger(__name__)

#: ``crawls.outcome`` of a crawl that ran to its end and reached the site.
OUTCOME_FINISHED = "finished"
#: ``crawls.outcome`` when no discovery document and no page could be fetched at all.
OUTCOME_UNREACHABLE = "unreachable"
#: ``crawls.outcome`` when pages were asked for and every one of them failed.
OUTCOME_PAGES_FAILED = "pages_failed"


#: Loggers whose errors each become a ``failures`` row (or are about one): below INFO, they
#: would only repeat, with tracebacks, what the end-of-run summary says.
FAILURE_LOGGERS = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt")


class BadSetting(ValueError):
    """A newsarchive setting (``-s NAME=VALUE``) whose value makes no sense."""


class UnknownSite(ValueError):
    """Neither a spider, nor a bundled profile, nor a profile file."""


def project_settings(overrides: dict[str, Any] | None = None):
    """newsarchive's Scrapy settings, wherever the command is run from, with ``overrides``."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsarchive.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def spider_for(site: str, settings) -> tuple[type, dict[str, str]]:
    """The spider class and arguments for ``site``: a spider name, a bundled profile or a profile file.

    Raises ProfileError for a profile that does not make sense, UnknownSite (listing the
    spiders and bundled profiles) when ``site`` names nothing.
    """
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.profiles import (
        ProfileNotFound,
        bundled_profiles,
        is_profile_path,
        load_profile,
    )

    loader = SpiderLoader.from_settings(settings)
    if site in loader.list():
        return loader.load(site), {}
    try:
        load_profile(site)
    except ProfileNotFound as exc:
        if is_profile_path(site):
            raise
        raise UnknownSite(
            f"no profile {site!r} and no spider of that name (spiders: {', '.join(sorted(loader.list()))}; "
            f"bundled profiles: {', '.join(bundled_profiles())}; or a profile file, NAME.toml)"
        ) from exc
    return loader.load("news"), {"profile": site}


@dataclass
class CrawlPlan:
    """A crawl checked before anything is created: its settings, spider class and arguments."""

    settings: Any
    spidercls: type
    args: dict[str, str] = field(default_factory=dict)


def plan_crawl(
    site: str,
    *,
    settings_overrides: dict[str, Any] | None = None,
    spider_args: dict[str, str] | None = None,
) -> CrawlPlan:
    """Resolve ``site`` and check the spider arguments (ProfileError, UnknownSite, or the
    spider's SpiderArgumentError); nothing is created."""
    from newsarchive.middlewares.incremental import schedule_from_setting
    from newsarchive.pool import ExtractPool

    settings = project_settings(settings_overrides)
    spidercls, args = spider_for(site, settings)
    args.update(spider_args or {})
    check = getattr(spidercls, "parse_arguments", None)
    if check is not None:
        check(dict(args))
    try:
        schedule_from_setting(settings.get("NEWSARCHIVE_REVISIT_SCHEDULE"))
        settings.getint("NEWSARCHIVE_REVISIT_BUDGET")
        ExtractPool.from_settings(settings)  # no process starts before the first page
    except ValueError as exc:
        raise BadSetting(str(exc)) from exc
    return CrawlPlan(settings, spidercls, args)


def run_crawl(
    site: str | CrawlPlan,
    *,
    settings_overrides: dict[str, Any] | None = None,
    spider_args: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Crawl ``site`` (or a checked :class:`CrawlPlan`) to the end and return the crawl's final
    stats (``finish_reason`` included, and ``newsarchive/outcome``: see :func:`crawl_outcome`).

    The archive's lock is held from before Scrapy starts to the end: a second crawl of the same
    archive is refused (ArchiveLocked), however close together the two start.
    """
    from scrapy.crawler import CrawlerProcess

    plan = (
        site
        if isinstance(site, CrawlPlan)
        else plan_crawl(site, settings_overrides=settings_overrides, spider_args=spider_args)
    )
    with archive_lock(plan.settings.get("NEWSARCHIVE_DB")):
        process = CrawlerProcess(plan.settings)
        _quiet_failure_loggers(plan.settings.get("LOG_LEVEL"))
        crawler = process.create_crawler(plan.spidercls)
        process.crawl(crawler, **plan.args)
        process.start()
    stats = dict(crawler.stats.get_stats())
    stats.setdefault("newsarchive/outcome", crawl_outcome(stats))
    return stats


def _quiet_failure_loggers(level: str | int | None) -> None:
    """At a quiet log level (WARNING and above), leave failures to the summary and the failures table."""
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    if isinstance(numeric, int) and numeric >= logging.WARNING:
        for name in FAILURE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def crawl_outcome(stats: dict[str, Any]) -> str:
    """What a crawl's stats say happened, as ``crawls.outcome``:

    - Scrapy's finish reason when the crawl did not run to its end ("shutdown", "closespider_…");
    - "unreachable" when no discovery document and no page could be fetched at all;
    - "pages_failed" when pages were asked for and every one failed;
    - "finished" otherwise: the crawl reached the site (new, changed, unchanged or skipped pages).
    """
    reason = stats.get("finish_reason") or "killed"
    if reason != OUTCOME_FINISHED:
        return reason
    reached_pages = sum(
        stats.get(f"newsarchive/pages_{k}", 0) for k in ("new", "changed", "unchanged", "removed")
    )
    failed_pages = stats.get("newsarchive/pages_failed", 0)
    fetched_documents = stats.get("newsarchive/discovery_fetched", 0)
    if reached_pages or stats.get("newsarchive/pages_skipped", 0):  # skipped: known unchanged
        return OUTCOME_FINISHED
    if failed_pages:
        return OUTCOME_PAGES_FAILED
    return OUTCOME_FINISHED if fetched_documents else OUTCOME_UNREACHABLE
