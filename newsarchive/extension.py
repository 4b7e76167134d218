"""The crawl's archive, owned by one Scrapy extension.

:class:`ArchiveExtension` (``EXTENSIONS`` in ``newsarchive/settings.py``) holds, from
``spider_opened`` to ``spider_closed``, the archive's lock (one writer per archive), the
:class:`~newsarchive.store.Archive` connection and the ``crawls`` row of the run. Every part of
the crawl that writes (the store pipeline, the images pipeline, the capture and check
middlewares) gets it with ``ArchiveExtension.of(crawler)`` (``crawler.get_extension``) and writes
through its one connection; every failure goes through :meth:`ArchiveExtension.record_failure`,
which writes the ``failures`` row and counts it in the stats (``newsarchive/failures/<stage>``).

When another crawl holds the archive, the spider is closed before any request (finish reason
``archive_locked``) with one log line; ``newsarchive crawl`` refuses earlier (exit status 75).
An archive that cannot be opened or written closes it too (``archive_unusable``).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.task import LoopingCall

from newsarchive.crawl import crawl_outcome
from newsarchive.items import CrawlFailure
from newsarchive.pool import give_back_free_memory
from newsarchive.store import Archive
from newsarchive.store.lock import ArchiveLocked, archive_lock

logger = logging.getLogger(__name__)

#: ``NEWSARCHIVE_DB`` when the setting is empty.
DEFAULT_DB = "archive.db"
#: Scrapy's finish reason (and ``crawls`` is not written) when another crawl holds the archive.
REASON_LOCKED = "archive_locked"
#: Scrapy's finish reason when the archive cannot be opened or written (not an archive, ...).
REASON_UNUSABLE = "archive_unusable"
#: The longest a ``captures`` row waits for the write it goes with (a page's article).
CAPTURE_FLUSH_SECONDS = 1.0


class ArchiveNotOpen(RuntimeError):
    """The crawl's archive is used before ``spider_opened`` or after ``spider_closed``."""


class ArchiveExtension:
    """Owner of the crawl's archive: lock, connection, ``crawls`` row, failures."""

    def __init__(self, crawler: Crawler, db_path: str | Path) -> None:
        self.crawler = crawler
        self.db_path = Path(db_path)
        self.crawl_id: int | None = None
        self._archive: Archive | None = None
        self._held = ExitStack()
        #: Writes the queued ``captures`` rows every CAPTURE_FLUSH_SECONDS (see record_capture).
        self._flusher: AsyncioLoopingCall | LoopingCall | None = None
        #: (url, stage) recorded in this run: a failure is one row (and one count) per run,
        #: however many articles share the picture or however many paths report it.
        self._failed: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveExtension:
        extension = cls(crawler, crawler.settings.get("NEWSARCHIVE_DB") or DEFAULT_DB)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    @classmethod
    def of(cls, crawler: Crawler) -> ArchiveExtension:
        """The crawler's extension (for the ``from_crawler`` of pipelines and middlewares)."""
        extension = crawler.get_extension(cls)
        if extension is None:
            raise RuntimeError(
                "newsarchive.extension.ArchiveExtension is not enabled: add it to EXTENSIONS"
            )
        return extension

    @property
    def archive(self) -> Archive:
        """The open archive (:class:`ArchiveNotOpen` outside the crawl)."""
        if self._archive is None:
            raise ArchiveNotOpen(f"{self.db_path} is not open: the spider is not running")
        return self._archive

    @property
    def is_open(self) -> bool:
        return self._archive is not None

    # -- the crawl's start and end --------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        try:
            self._held.enter_context(archive_lock(self.db_path))
        except ArchiveLocked as exc:
            logger.error("%s", exc)
            raise CloseSpider(REASON_LOCKED) from exc
        try:
            self._archive = self._held.enter_context(Archive(self.db_path))
            self.crawl_id = self._start_crawl(spider)
        except Exception as exc:  # the crawl must not run without its archive
            logger.exception("cannot write %s", self.db_path)
            self._archive = None
            self._held.close()
            raise CloseSpider(REASON_UNUSABLE) from exc
        self.crawler.stats.set_value("newsarchive/crawl_id", self.crawl_id)
        self._flusher = create_looping_call(self._each_second)
        self._flusher.start(CAPTURE_FLUSH_SECONDS, now=False)
        logger.info("archiving into %s (crawl %s)", self.db_path, self.crawl_id)

    def _start_crawl(self, spider: Spider) -> int:
        profile = getattr(spider, "profile", None)
        if profile is not None:
            base = (
                profile.sections or profile.feeds or profile.sitemaps or profile.robots or [None]
            )[0]
            self.archive.ensure_site(profile.name, name=profile.title, base_url=base)
        return self.archive.start_crawl(
            spider=spider.name,
            site=profile.name if profile is not None else None,
            args=_spider_args(spider),
        )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Finish the ``crawls`` row with the final stats, close the archive, release the lock."""
        if self._flusher is not None and self._flusher.running:
            self._flusher.stop()
        try:
            if self._archive is not None and self.crawl_id is not None:
                self._finish_crawl(self._archive, self.crawl_id, reason)
        finally:
            self._archive = None
            self._held.close()

    def _finish_crawl(self, archive: Archive, crawl_id: int, reason: str) -> None:
        stats = self.crawler.stats
        stats.set_value("finish_reason", reason)  # CoreStats sets it after this handler
        outcome = crawl_outcome(stats.get_stats())
        stats.set_value("newsarchive/outcome", outcome)
        final = dict(stats.get_stats())
        archive.finish_crawl(
            crawl_id,
            stats=final,
            outcome=outcome,
            pages_skipped=final.get("newsarchive/pages_skipped", 0),
            pages_revisited=final.get("newsarchive/pages_revisited", 0),
        )

    # -- rows that are not articles ------------------------------------------------------
    def record_failure(self, failure: CrawlFailure) -> bool:
        """Write the ``failures`` row of ``failure`` and count it in the stats
        (``newsarchive/failures/<stage>``), once per (url, stage) and run; False when already
        recorded in this run."""
        key = (failure.url, failure.stage)
        if key in self._failed:
            return False
        self._failed.add(key)
        self.crawler.stats.inc_value(f"newsarchive/failures/{failure.stage}")
        self.archive.record_failure(failure, crawl_id=self.crawl_id)
        return True

    def record_capture(self, capture: dict[str, Any]) -> None:
        """A ``captures`` row (a :class:`~newsarchive.capture.CaptureRef` as a dict), written with
        the next write: a page's capture and its article are one transaction
        (:meth:`~newsarchive.store.Archive.queue_capture`); at the latest a second later."""
        self.archive.queue_capture(capture, crawl_id=self.crawl_id)

    def _each_second(self) -> None:
        """The captures rows queued and not yet written with an article; the heap's free pages
        back to the system."""
        give_back_free_memory()
        if self._archive is None:
            return
        try:
            self._archive.flush_captures()
        except Exception:  # the next write or the end of the crawl tries again
            logger.exception("could not write the captures rows into %s", self.db_path)

    def picture_known(self, url: str) -> bool:
        """Whether the archive holds the picture at ``url`` with its file's facts."""
        return self.archive.picture_known(url)


def _spider_args(spider: Spider) -> dict[str, Any]:
    profile = getattr(spider, "profile", None)
    args = {
        "since": getattr(spider, "since", None),
        "max_articles": getattr(spider, "max_articles", None),
        # Scrapyd's job id (its ``_job`` argument): ``newsarchive cluster status`` finds the row by it.
        "job": getattr(spider, "_job", None),
    }
    if profile is not None:
        args["profile"] = profile.name
    return {k: v for k, v in args.items() if v is not None}
