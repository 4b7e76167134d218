"""The crawl's archive, for rows that are not items.

Captures are written by a downloader middleware and picture failures are found by the images
pipeline: neither can hand an item to the store pipeline, so they write through this helper,
one per crawler (:meth:`CrawlRecorder.for_crawler`). The store pipeline attaches its own
connection and ``crawls`` row to it (:meth:`CrawlRecorder.attach`), so a crawl writes through
one connection. Without a store pipeline it opens the archive itself, on first use, takes the
latest unfinished ``crawls`` row, and closes the archive when the spider closes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from newsarchive.items import CrawlFailure
from newsarchive.store import Archive

logger = logging.getLogger(__name__)
_ATTR = "_newsarchive_recorder"


class CrawlRecorder:
    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._archive: Archive | None = None
        self._owned = False  # True when this recorder opened the archive (and so closes it)
        self._crawl_id: int | None = None
        #: (url, stage) recorded in this run: a failure is one row per run, however many
        #: articles share the picture.
        self._failed: set[tuple[str, str]] = set()

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> CrawlRecorder:
        recorder = getattr(crawler, _ATTR, None)
        if recorder is None:
            recorder = cls(crawler.settings.get("NEWSARCHIVE_DB") or "archive.db")
            setattr(crawler, _ATTR, recorder)
            crawler.signals.connect(recorder.close, signal=signals.spider_closed)
        return recorder

    def attach(self, archive: Archive, crawl_id: int | None) -> None:
        """Write through ``archive`` (the store pipeline's) for crawl ``crawl_id``."""
        self._archive, self._crawl_id, self._owned = archive, crawl_id, False

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            self._archive, self._owned = Archive(self.db_path), True
        return self._archive

    @property
    def crawl_id(self) -> int | None:
        if self._crawl_id is None:
            self._crawl_id = self.archive.current_crawl()
        return self._crawl_id

    def record_capture(self, capture: dict[str, Any]) -> None:
        self.archive.record_capture(capture, crawl_id=self.crawl_id)

    def record_failure(
        self, url: str, stage: str, reason: str, http_status: int | None = None
    ) -> bool:
        """Add (or update) a failures row once per run; False if already recorded in this run."""
        if (url, stage) in self._failed:
            return False
        self._failed.add((url, stage))
        self.archive.record_failure(
            CrawlFailure(url=url, stage=stage, reason=reason, http_status=http_status),
            crawl_id=self.crawl_id,
        )
        return True

    def picture_known(self, url: str) -> bool:
        if not self.db_path.exists():
            return False
        return self.archive.picture_known(url)

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self._archive is not None and self._owned:
            self._archive.close()
        self._archive = None
