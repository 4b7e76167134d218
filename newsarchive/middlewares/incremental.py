"""Incremental crawls and revisits: fetch again what may have changed, and little else.

For each article request (``meta["newsarchive_article"]``) of a page already archived:

- when discovery gave the link a *modification* date (sitemap ``<lastmod>``, Atom ``<updated>``:
  ``meta["newsarchive_source_date"]``) that is not newer than what the archive knew at the last
  fetch (that date, the page's own ``dateModified``, its HTTP ``Last-Modified``), the request is
  dropped (:class:`SkipUnchanged`, counted as ``pages_skipped``); a newer one is fetched;
- without a modification date (a news sitemap's ``publication_date`` or an RSS ``pubDate`` does
  not move when a story is corrected), the page is revisited on a schedule by its age
  (``NEWSARCHIVE_REVISIT_SCHEDULE``): younger than a day every run, then every 6 hours, daily,
  weekly; a page not due yet is dropped (``pages_skipped``), a removed one is never revisited;
- a page fetched again goes as a conditional request (``If-None-Match`` / ``If-Modified-Since``),
  so an unchanged page answers 304 without a body; it is counted as ``pages_revisited``.

Archived pages that no feed or sitemap lists any more are revisited too: when the crawl has
nothing left to do, the due ones (newest first, at most ``NEWSARCHIVE_REVISIT_BUDGET`` a run)
are asked for through the spider's ``revisit_request``.

"Now" is the clock, or in a replay (``NEWSARCHIVE_REPLAY``) the capture time (WARC-Date) of the
latest response replayed, so a replay of a later capture revisits what a crawl then would have.
Feeds, sitemaps and section pages are never touched: they are fetched on every run.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import Response

from newsarchive.capture.writer import CAPTURE_META
from newsarchive.processors import canonical_url
from newsarchive.store import Archive
from newsarchive.store.archive import KnownPage

logger = logging.getLogger(__name__)

_HOUR = 3600.0
#: (age up to, in hours, or None for any age; revisit interval in hours): the default schedule.
DEFAULT_SCHEDULE: list[tuple[float | None, float]] = [
    (24, 0),
    (7 * 24, 6),
    (30 * 24, 24),
    (None, 7 * 24),
]
#: Archived pages no discovery listed that a run revisits at most.
DEFAULT_BUDGET = 100
_REVISIT_COUNTED = "newsarchive_revisit_counted"


class SkipUnchanged(IgnoreRequest):
    """The archived copy is as new as the modification date discovery gave, or not due for a
    revisit: not downloaded."""


def parse_instant(value: str | None) -> dt.datetime | None:
    """An ISO 8601 date or time (a bare date is its midnight UTC) or an HTTP date, as aware UTC."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def schedule_from_setting(value: Any) -> list[tuple[float | None, float]]:
    """``NEWSARCHIVE_REVISIT_SCHEDULE``: pairs [max age in hours or null, interval in hours], as a
    list or as its JSON text (``-s 'NEWSARCHIVE_REVISIT_SCHEDULE=[[24, 0], [null, 12]]'``)."""
    if value in (None, ""):
        return list(DEFAULT_SCHEDULE)
    pairs = json.loads(value) if isinstance(value, str) else value
    try:
        schedule = [
            (None if age is None else float(age), float(interval)) for age, interval in pairs
        ]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"NEWSARCHIVE_REVISIT_SCHEDULE must be [[max age hours or null, interval hours], ...]: {exc}"
        ) from exc
    return schedule


def revisit_interval(age_hours: float, schedule: list[tuple[float | None, float]]) -> float | None:
    """Hours between revisits of a page ``age_hours`` old (None: never)."""
    for max_age, interval in schedule:
        if max_age is None or age_hours < max_age:
            return interval
    return None


def known_modified(page: KnownPage) -> dt.datetime | None:
    """The latest modification time the archive saw at the page's last fetch."""
    instants = (parse_instant(v) for v in (page.source_date, page.modified, page.last_modified))
    times = [t for t in instants if t is not None]
    return max(times) if times else None


class RevisitPolicy:
    """Which archived pages to fetch again, and when."""

    def __init__(self, schedule: list[tuple[float | None, float]]) -> None:
        self.schedule = schedule

    def is_due(self, page: KnownPage, now: dt.datetime) -> bool:
        """Whether ``page`` (not removed) is due for a revisit at ``now`` by its age."""
        if page.removed_at:
            return False
        born = parse_instant(page.published) or parse_instant(page.first_seen) or now
        last = parse_instant(page.last_seen)
        interval = revisit_interval(max(0.0, (now - born).total_seconds() / _HOUR), self.schedule)
        if interval is None:
            return False
        return last is None or (now - last).total_seconds() >= interval * _HOUR

    def skip_reason(
        self, page: KnownPage, source_modified: str | None, now: dt.datetime
    ) -> str | None:
        """Why a request for archived ``page`` need not be made now, or None to make it."""
        link_modified = parse_instant(source_modified)
        if link_modified is not None:
            known = known_modified(page)
            if known is not None and link_modified <= known:
                return f"unchanged since {known.isoformat()}"
            return None  # modified since the last fetch: fetch it, whatever its age
        if not self.is_due(page, now):
            return f"not due for a revisit (last seen {page.last_seen})"
        return None


class IncrementalMiddleware:
    def __init__(self, crawler: Crawler, db_path: str) -> None:
        self.crawler = crawler
        self.db_path = Path(db_path)
        self.known: dict[str, KnownPage] = {}
        settings = crawler.settings
        self.policy = RevisitPolicy(
            schedule_from_setting(settings.get("NEWSARCHIVE_REVISIT_SCHEDULE"))
        )
        self.budget = settings.getint("NEWSARCHIVE_REVISIT_BUDGET", DEFAULT_BUDGET)
        self.replaying = bool(settings.get("NEWSARCHIVE_REPLAY"))
        self.replay_now: dt.datetime | None = None
        self._revisits_scheduled = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        if not crawler.settings.getbool("NEWSARCHIVE_INCREMENTAL", True):
            raise NotConfigured("NEWSARCHIVE_INCREMENTAL is off")
        middleware = cls(crawler, crawler.settings.get("NEWSARCHIVE_DB"))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_idle, signal=signals.spider_idle)
        return middleware

    def spider_opened(self, spider) -> None:
        if not self.db_path.exists():
            return
        profile = getattr(spider, "profile", None)
        with Archive(self.db_path, readonly=True) as archive:
            self.known = archive.known_pages(site=profile.name if profile else None)
        logger.info("incremental: %d archived URLs known", len(self.known))

    def now(self) -> dt.datetime:
        """The clock, or in a replay the capture time of the latest response replayed."""
        if self.replaying and self.replay_now is not None:
            return self.replay_now
        return dt.datetime.now(dt.UTC)

    def known_page(self, url: str) -> KnownPage | None:
        return self.known.get(url) or self.known.get(canonical_url(url) or url)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("newsarchive_article"):
            return None
        page = self.known_page(request.url)
        if page is None or page.removed_at:
            return None
        # url → articles.id, for each URL of a redirect chain that the archive knows.
        request.meta.setdefault("newsarchive_known_ids", {})[request.url] = page.article_id
        reason = self.policy.skip_reason(
            page, request.meta.get("newsarchive_source_date"), self.now()
        )
        if reason:
            raise SkipUnchanged(reason)
        if not request.meta.get(
            _REVISIT_COUNTED
        ):  # once, however often it is retried or redirected
            request.meta[_REVISIT_COUNTED] = True
            self.crawler.stats.inc_value("newsarchive/pages_revisited")
        if page.etag:
            request.headers.setdefault(b"If-None-Match", page.etag)
        if page.last_modified:
            request.headers.setdefault(b"If-Modified-Since", page.last_modified)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        """In a replay, move "now" to the capture time of the responses replayed."""
        if self.replaying:
            captured = parse_instant((request.meta.get(CAPTURE_META) or {}).get("warc_date"))
            if captured and (self.replay_now is None or captured > self.replay_now):
                self.replay_now = captured
                self.crawler.stats.set_value(
                    "newsarchive/replay_now", captured.isoformat(timespec="seconds")
                )
        return response

    def due_unlisted(self, requested: set[str]) -> list[KnownPage]:
        """Archived pages due for a revisit that this run has not asked for, newest first, within
        the budget."""
        now = self.now()
        pages = {page.article_id: page for page in self.known.values()}.values()
        due = [
            p
            for p in pages
            if p.url
            and canonical_url(p.url) not in requested
            and p.url not in requested
            and self.policy.is_due(p, now)
        ]
        due.sort(key=lambda p: p.published or p.first_seen or "", reverse=True)
        return due[: max(0, self.budget)]

    def spider_idle(self, spider) -> None:
        """Once discovery is done, revisit the due archived pages no feed or sitemap listed."""
        make_request = getattr(spider, "revisit_request", None)
        if self._revisits_scheduled or make_request is None or not self.known:
            return
        self._revisits_scheduled = True
        requested = set(getattr(spider, "requested_urls", ()))
        scheduled = 0
        for page in self.due_unlisted(requested):
            request = make_request(page.url)
            if request is not None:
                self.crawler.engine.crawl(request)
                scheduled += 1
        logger.info("revisits: %d archived pages no discovery listed", scheduled)
        self.crawler.stats.set_value("newsarchive/revisits_unlisted", scheduled)
        if scheduled:
            raise DontCloseSpider
