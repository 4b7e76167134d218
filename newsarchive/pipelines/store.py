"""Write items into the crawl's archive (held by :class:`~newsarchive.extension.ArchiveExtension`)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from newsarchive.extension import ArchiveExtension
from newsarchive.items import Article, CrawlFailure, FrontPage, PageStatus, Transcript
from newsarchive.middlewares.incremental import parse_instant

logger = logging.getLogger(__name__)


class StorePipeline:
    """Stores articles, failures and page statuses; records dropped items as failures
    (stage "validate"). The archive, its lock and the ``crawls`` row belong to the
    :class:`~newsarchive.extension.ArchiveExtension`; this pipeline writes through it.
    """

    def __init__(self, crawler: Crawler, extension: ArchiveExtension) -> None:
        self.crawler = crawler
        self.extension = extension
        self.replaying = bool(crawler.settings.get("NEWSARCHIVE_REPLAY"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler, ArchiveExtension.of(crawler))
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            self._save_article(item)
        elif isinstance(item, CrawlFailure):
            self.extension.record_failure(item)
        elif isinstance(item, PageStatus):
            self._save_status(item)
        elif isinstance(item, Transcript):
            self._save_transcript(item)
        elif isinstance(item, FrontPage):
            self._save_front_page(item)
        return item

    def _save_transcript(self, transcript: Transcript) -> None:
        """A video's transcript (see :meth:`~newsarchive.store.Archive.save_transcript`)."""
        extension = self.extension
        status = extension.archive.save_transcript(
            transcript, crawl_id=extension.crawl_id, seen_at=self._seen_at(transcript)
        )
        self.crawler.stats.inc_value(f"newsarchive/transcripts_{status}")

    def _save_front_page(self, page: FrontPage) -> None:
        """A front or section page's placements, seen now (in a replay: when it was captured)."""
        extension = self.extension
        if extension.archive.save_front_page(
            page, crawl_id=extension.crawl_id, seen_at=self._seen_at(capture_id=page.capture_id)
        ):
            self.crawler.stats.inc_value("newsarchive/front_pages")

    def _save_article(self, article: Article) -> None:
        extension = self.extension
        status = extension.archive.save_article(
            article, crawl_id=extension.crawl_id, seen_at=self._seen_at(article)
        )
        self.crawler.stats.inc_value(f"newsarchive/pages_{status}")

    def _save_status(self, item: PageStatus) -> None:
        archive, crawl_id, seen_at = (
            self.extension.archive,
            self.extension.crawl_id,
            self._seen_at(),
        )
        if item.status == "not_modified" and archive.touch_article(
            item.url, article_id=item.article_id, crawl_id=crawl_id, seen_at=seen_at
        ):
            self.crawler.stats.inc_value("newsarchive/pages_unchanged")
        elif item.status == "removed" and archive.mark_removed(
            item.url,
            reason=item.reason or "removed",
            article_id=item.article_id,
            crawl_id=crawl_id,
            seen_at=seen_at,
        ):
            self.crawler.stats.inc_value("newsarchive/pages_removed")

    def _seen_at(
        self, article: Article | Transcript | None = None, *, capture_id: str | None = None
    ) -> str | None:
        """When the page was seen: now (None), or in a replay its capture time (WARC-Date), so
        that the revisit schedule of a later replay counts from when the page was captured."""
        if not self.replaying:
            return None
        capture_id = capture_id or (article.capture_id if article is not None else None)
        capture = self.extension.archive.capture(capture_id) if capture_id else None
        when = parse_instant(
            capture["warc_date"]
            if capture
            else self.crawler.stats.get_value("newsarchive/replay_now")
        )
        return when.isoformat(timespec="seconds") if when else None

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        if not self.extension.is_open or not isinstance(item, Article):
            return
        failure = CrawlFailure(
            url=item.url,
            stage="validate",
            reason=str(exception),
            http_status=getattr(response, "status", None),
        )
        self.extension.record_failure(failure)
        self.crawler.stats.inc_value("newsarchive/pages_failed")
