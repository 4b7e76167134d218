"""Incremental crawls: don't download again what the archive already holds unchanged.

For each article request (``meta["newsarchive_article"]``) of a page already archived:

- when discovery dated the link (sitemap lastmod, news:publication_date, feed date) and that
  date is not newer than the one recorded at the last fetch, the request is dropped
  (:class:`SkipUnchanged`, counted as ``pages_skipped``);
- otherwise it becomes a conditional request (``If-None-Match`` / ``If-Modified-Since``), so an
  unchanged page answers 304 without a body.

Feeds, sitemaps and section pages are never touched: they are fetched on every run.
"""
from __future__ import annotations

import logging
from pathlib import Path

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

from newsarchive.processors import canonical_url
from newsarchive.store import Archive
from newsarchive.store.archive import KnownPage

logger = logging.getLogger(__name__)


class SkipUnchanged(IgnoreRequest):
    """The archived copy is as new as the date discovery gave: not downloaded."""


class IncrementalMiddleware:
    def __init__(self, crawler: Crawler, db_path: str) -> None:
        self.crawler = crawler
        self.db_path = Path(db_path)
        self.known: dict[str, KnownPage] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        if not crawler.settings.getbool("NEWSARCHIVE_INCREMENTAL", True):
            raise NotConfigured("NEWSARCHIVE_INCREMENTAL is off")
        middleware = cls(crawler, crawler.settings.get("NEWSARCHIVE_DB"))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider) -> None:
        if not self.db_path.exists():
            return
        profile = getattr(spider, "profile", None)
        with Archive(self.db_path, readonly=True) as archive:
            self.known = archive.known_pages(site=profile.name if profile else None)
        logger.info("incremental: %d archived URLs known", len(self.known))

    def known_page(self, url: str) -> KnownPage | None:
        return self.known.get(url) or self.known.get(canonical_url(url))

    def process_request(self, request: Request) -> None:
        if not request.meta.get("newsarchive_article"):
            return None
        page = self.known_page(request.url)
        if page is None or page.removed_at:
            return None
        # url → articles.id, for each URL of a redirect chain that the archive knows.
        request.meta.setdefault("newsarchive_known_ids", {})[request.url] = page.article_id
        source_date = request.meta.get("newsarchive_source_date")
        if source_date and page.source_date and source_date <= page.source_date:
            raise SkipUnchanged(f"unchanged since {page.source_date}")
        if page.etag:
            request.headers.setdefault(b"If-None-Match", page.etag)
        if page.last_modified:
            request.headers.setdefault(b"If-Modified-Since", page.last_modified)
        return None
