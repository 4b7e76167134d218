"""Write items into the SQLite archive; one ``crawls`` row per run, failures included."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from newsarchive.capture.recorder import CrawlRecorder
from newsarchive.crawl import crawl_outcome
from newsarchive.items import Article, CrawlFailure, PageStatus
from newsarchive.middlewares.incremental import parse_instant
from newsarchive.store import Archive
from newsarchive.store.lock import archive_lock

logger = logging.getLogger(__name__)


class StorePipeline:
    """Stores articles, failures and page statuses; records dropped items as failures
    (stage "validate"). Holds the archive's lock from open to close, so that two crawls never
    write one archive (whether started by ``newsarchive crawl``, ``scrapy crawl`` or Scrapyd).

    ``db_path`` defaults to the ``NEWSARCHIVE_DB`` setting, read once in ``from_crawler``.
    """

    db_path: str = "archive.db"

    def __init__(self, crawler: Crawler, db_path: str | None = None) -> None:
        self.crawler = crawler
        self.db_path = db_path or self.db_path
        self.archive: Archive | None = None
        self.crawl_id: int | None = None
        self._lock = None
        self.replaying = bool(crawler.settings.get("NEWSARCHIVE_REPLAY"))
        #: NormalizePipeline runs before this one: save_article need not normalise again.
        self.normalized = _normalize_runs_first(
            crawler.settings.getwithbase("ITEM_PIPELINES"), type(self)
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        pipeline = cls(crawler, crawler.settings.get("NEWSARCHIVE_DB"))
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        spider = self.crawler.spider
        profile = getattr(spider, "profile", None)
        self._lock = archive_lock(self.db_path)
        self._lock.__enter__()  # ArchiveLocked if another crawl writes this archive
        self.archive = Archive(self.db_path)
        site = profile.name if profile else None
        if profile:
            base = (
                profile.sections or profile.feeds or profile.sitemaps or profile.robots or [None]
            )[0]
            self.archive.ensure_site(profile.name, name=profile.title, base_url=base)
        self.crawl_id = self.archive.start_crawl(
            spider=spider.name, site=site, args=_spider_args(spider)
        )
        self.crawler.stats.set_value("newsarchive/crawl_id", self.crawl_id)
        CrawlRecorder.for_crawler(self.crawler).attach(self.archive, self.crawl_id)
        logger.info("archiving into %s (crawl %s)", self.db_path, self.crawl_id)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            status = self.archive.save_article(
                item,
                crawl_id=self.crawl_id,
                seen_at=self._seen_at(item),
                normalized=self.normalized,
            )
            self.crawler.stats.inc_value(f"newsarchive/pages_{status}")
        elif isinstance(item, CrawlFailure):
            self.archive.record_failure(item, crawl_id=self.crawl_id)
            self.crawler.stats.inc_value(f"newsarchive/failures/{item.stage}")
        elif isinstance(item, PageStatus):
            known = {
                "article_id": item.article_id,
                "crawl_id": self.crawl_id,
                "seen_at": self._seen_at(None),
            }
            if item.status == "not_modified" and self.archive.touch_article(item.url, **known):
                self.crawler.stats.inc_value("newsarchive/pages_unchanged")
            elif item.status == "removed" and self.archive.mark_removed(
                item.url, reason=item.reason or "removed", **known
            ):
                self.crawler.stats.inc_value("newsarchive/pages_removed")
        return item

    def _seen_at(self, article: Article | None) -> str | None:
        """When the page was seen: now (None), or in a replay its capture time (WARC-Date), so
        that the revisit schedule of a later replay counts from when the page was captured."""
        if not self.replaying:
            return None
        capture = (
            self.archive.capture(article.capture_id)
            if article is not None and article.capture_id
            else None
        )
        when = parse_instant(
            capture["warc_date"]
            if capture
            else self.crawler.stats.get_value("newsarchive/replay_now")
        )
        return when.isoformat(timespec="seconds") if when else None

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        if self.archive is None or not isinstance(item, Article):
            return
        failure = CrawlFailure(
            url=item.url,
            stage="validate",
            reason=str(exception),
            http_status=getattr(response, "status", None),
        )
        self.archive.record_failure(failure, crawl_id=self.crawl_id)
        self.crawler.stats.inc_value("newsarchive/failures/validate")
        self.crawler.stats.inc_value("newsarchive/pages_failed")

    def close_spider(self) -> None:
        """Nothing here: the crawls row is finished in ``spider_closed`` with the final stats."""

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.archive is None:
            return
        stats = self.crawler.stats
        stats.set_value("finish_reason", reason)  # CoreStats sets it after this handler
        outcome = crawl_outcome(stats.get_stats())
        stats.set_value("newsarchive/outcome", outcome)
        final = dict(stats.get_stats())
        self.archive.finish_crawl(
            self.crawl_id,
            stats=final,
            outcome=outcome,
            pages_skipped=final.get("newsarchive/pages_skipped", 0),
            pages_revisited=final.get("newsarchive/pages_revisited", 0),
        )
        self.archive.close()
        self.archive = None
        self._lock.__exit__(None, None, None)


def _spider_args(spider: Any) -> dict[str, Any]:
    profile = getattr(spider, "profile", None)
    args = {
        "since": getattr(spider, "since", None),
        "max_articles": getattr(spider, "max_articles", None),
    }
    if profile is not None:
        args["profile"] = profile.name
    return {k: v for k, v in args.items() if v is not None}


def _normalize_runs_first(pipelines, store_class: type) -> bool:
    """Whether ITEM_PIPELINES has NormalizePipeline before ``store_class``."""
    from scrapy.utils.misc import load_object

    from newsarchive.pipelines.normalize import NormalizePipeline

    order = {}
    for path, position in dict(pipelines).items():
        if position is not None:
            order[load_object(path) if isinstance(path, str) else path] = position
    return (
        NormalizePipeline in order
        and store_class in order
        and order[NormalizePipeline] < order[store_class]
    )
