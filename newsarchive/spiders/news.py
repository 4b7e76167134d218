"""The generic news spider: discovery from a site profile or arguments, one item per page.

The spider only routes requests; pages become items through ``newsarchive.extract``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from lxml import etree
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.encoding import http_content_type_encoding
from w3lib.url import add_or_replace_parameter

from newsarchive import __version__
from newsarchive.capture.writer import CAPTURE_META, HTTP_NOT_MODIFIED
from newsarchive.discovery import (
    Link,
    SitemapTooLarge,
    parse_feed,
    parse_sitemap,
    sitemap_body,
    sitemaps_from_robots,
)
from newsarchive.discovery.placements import is_home_page, placements_in
from newsarchive.extract import ExtractionError
from newsarchive.extract.document import fit_page
from newsarchive.items import Article, CrawlFailure, Fetch, FrontPage, PageStatus
from newsarchive.middlewares.capture import NotCaptured
from newsarchive.middlewares.checks import download_failure
from newsarchive.middlewares.incremental import SkipUnchanged
from newsarchive.pool import ExtractPool
from newsarchive.processors import canonical_url, same_page, to_iso_utc, trusted_canonical
from newsarchive.profiles import SiteProfile, load_profile, profile_from_arguments
from newsarchive.spiders.transcripts import TranscriptRouting

logger = logging.getLogger(__name__)

#: HTTP statuses that mean an archived page is gone.
GONE_STATUSES = (404, 410)
#: Discovery documents (robots, sitemaps, feeds, sections) go before any article.
DISCOVERY_PRIORITY = 1_000_000
_EPOCH = dt.date(1970, 1, 1)
#: Characters of an ISO 8601 date (YYYY-MM-DD) at the start of a date or time.
_ISO_DATE_LENGTH = len("1970-01-01")
#: What Scrapy's RedirectMiddleware says when a page redirects more than REDIRECT_MAX_TIMES.
_TOO_MANY_REDIRECTS = "max redirections reached"
#: ``NEWSARCHIVE_MAX_PAGE_BYTES`` by default: extraction reads at most this much of a page.
DEFAULT_MAX_PAGE_BYTES = 2 * 1024 * 1024


class SpiderArgumentError(ValueError):
    """A spider argument (``-a NAME=VALUE``) whose value makes no sense."""


def _positive_int(name: str, value: str | int | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise SpiderArgumentError(f"{name}={value!r} is not a whole number (e.g. {name}=50)")
    return number


class NewsSpider(TranscriptRouting, scrapy.Spider):
    """Crawl a news site from its profile (``-a profile=NAME``) or from arguments.

    Arguments: ``profile``; ``site`` (the archive's site key), ``title``;
    ``domains``, ``robots``, ``sitemaps``, ``feeds``, ``sections``, ``start_urls``,
    ``article_patterns``, ``video_patterns``, ``skip_patterns`` (comma lists); ``feed_pages``;
    ``since`` (a date: skip links dated before it); ``max_articles`` (a number).
    """

    name = "news"
    #: Bundled profile a subclass crawls by default.
    profile_name: str | None = None
    #: Finds links on section pages; override to narrow (restrict_css=...).
    link_extractor = LinkExtractor()

    def __init__(
        self,
        *args: Any,
        profile: str | None = None,
        since: str | None = None,
        max_articles: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.profile: SiteProfile
        self.profile, self.since, self.max_articles = self.parse_arguments(
            {**kwargs, "profile": profile, "since": since, "max_articles": max_articles}
        )
        self.allowed_domains = list(self.profile.domains)
        self._article_urls: set[str] = set()

    #: Bytes of a page extraction reads (``NEWSARCHIVE_MAX_PAGE_BYTES``, set in ``from_crawler``).
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    #: Where pages are extracted (worker processes; set in ``from_crawler``).
    extract_pool: ExtractPool

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.max_page_bytes = crawler.settings.getint(
            "NEWSARCHIVE_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES
        )
        # Pages are extracted in worker processes (newsarchive/pool.py) while the reactor downloads.
        spider.extract_pool = ExtractPool.from_settings(crawler.settings)
        crawler.signals.connect(spider.extract_pool.close, signal=signals.spider_closed)
        spider.configure_transcripts(crawler.settings)  # video transcripts: spiders/transcripts.py
        return spider

    @classmethod
    def parse_arguments(cls, args: dict[str, Any]) -> tuple[SiteProfile, str | None, int | None]:
        """The profile, ``since`` (ISO 8601 UTC) and ``max_articles`` that spider arguments give.

        Raises :class:`SpiderArgumentError` (or ProfileError) for a value that makes no sense, so
        that the command line can refuse it before anything is created.
        """
        name = args.get("profile") or cls.profile_name
        base = load_profile(name) if name else None
        profile = profile_from_arguments(args, base=base)
        since = args.get("since")
        since_iso = to_iso_utc(since) if since else None
        if since and not since_iso:
            raise SpiderArgumentError(f"since={since!r} is not a date (e.g. since=2025-01-31)")
        return profile, since_iso, _positive_int("max_articles", args.get("max_articles"))

    @classmethod
    def update_settings(cls, settings) -> None:
        """The User-Agent names newsarchive and carries ``NEWSARCHIVE_CONTACT_URL`` (unless
        USER_AGENT itself is set on the command line)."""
        super().update_settings(settings)
        settings.set(
            "USER_AGENT",
            f"newsarchive/{__version__} (+{settings.get('NEWSARCHIVE_CONTACT_URL')})",
            priority="spider",
        )

    # -- extension points -------------------------------------------------------------
    def link_filter(self, link: Link) -> bool:
        """Whether a discovered link should be fetched as an article. Override to narrow."""
        return (
            self.profile.allows(link.url)
            and not self.profile.is_skipped(link.url)
            and not self._before_since(link)
        )

    def _before_since(self, link: Link) -> bool:
        return bool(self.since and link.date and link.date < self.since)

    def article_request(self, link: Link) -> scrapy.Request | None:
        """The request for an article link, newest first; None when filtered or over budget."""
        # One request per page, whatever tracking parameters a link carries.
        key = canonical_url(link.url) or link.url
        if key in self._article_urls or not self.link_filter(link):
            return None
        if self.max_articles is not None and len(self._article_urls) >= self.max_articles:
            return None
        self._article_urls.add(key)
        # dont_filter: de-duplication is per run (above) and by the archive, not by a JOBDIR's
        # requests.seen, which a SIGKILL can leave holding URLs that were never fetched.
        return scrapy.Request(
            link.url,
            callback=self.parse_article,
            errback=self.on_error,
            dont_filter=True,
            priority=_date_priority(link.date),
            cb_kwargs={"kind_hint": link.kind},
            # Only a modification date may skip an archived page (middlewares/incremental.py).
            meta={
                "newsarchive_article": True,
                "newsarchive_source_date": link.modified,
                "handle_httpstatus_list": [HTTP_NOT_MODIFIED],
            },
        )

    @property
    def requested_urls(self) -> set[str]:
        """Canonical URLs of the pages asked for in this run."""
        return self._article_urls

    def revisit_request(self, url: str) -> scrapy.Request | None:
        """The request for an archived page that no discovery document listed in this run (the
        incremental middleware asks, once discovery is done); None if already asked for."""
        key = canonical_url(url) or url
        if key in self._article_urls:
            return None
        self._article_urls.add(key)
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            dont_filter=True,
            meta={
                "newsarchive_article": True,
                "newsarchive_revisit": True,
                "handle_httpstatus_list": [HTTP_NOT_MODIFIED],
            },
        )

    # -- discovery --------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        p = self.profile
        for url in p.robots:
            yield self._discovery(url, self.parse_robots)
        for url in p.sitemaps:
            yield self._discovery(url, self.parse_sitemap)
        for url in p.feeds:
            for page in range(1, max(1, p.feed_pages) + 1):
                page_url = url if page == 1 else add_or_replace_parameter(url, "page", str(page))
                yield self._discovery(page_url, self.parse_feed)
        for url in p.sections:
            yield self._discovery(url, self.parse_section)
        for url in p.start_urls:
            if request := self.article_request(Link(url=url)):
                yield request

    def _discovery(self, url: str, callback) -> scrapy.Request:
        """Feeds, sitemaps and sections are fetched on every run, resumed runs included."""
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=DISCOVERY_PRIORITY,
            dont_filter=True,
        )

    def _fetched(self, response: Response) -> None:
        """Count a discovery document the site answered (the crawl reached it)."""
        self.crawler.stats.inc_value("newsarchive/discovery_fetched")

    def parse_robots(self, response: Response) -> Iterable[scrapy.Request]:
        self._fetched(response)
        for url in sitemaps_from_robots(response.body, response.url):
            if self.profile.allows(url):
                yield self._discovery(url, self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterable[Any]:
        self._fetched(response)
        max_size = response.meta.get(
            "download_maxsize", self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        )
        try:
            body = sitemap_body(
                response, max_size=max_size
            )  # .xml.gz, or gzip bytes under any name
        except SitemapTooLarge as exc:
            yield CrawlFailure(
                url=response.url, stage="sitemap", reason=str(exc), http_status=response.status
            )
            return
        document = parse_sitemap(body, response.url)
        if document.is_index:
            for link in document.links:
                if self.profile.allows(link.url) and not self._before_since(link):
                    yield self._discovery(link.url, self.parse_sitemap)
            return
        yield from self._articles(document.links)

    def parse_feed(self, response: Response) -> Iterable[Any]:
        self._fetched(response)
        yield from self._articles(parse_feed(response.body, response.url))

    def parse_section(self, response: Response) -> Iterable[Any]:
        self._fetched(response)
        if not isinstance(response, HtmlResponse):
            yield self._not_html(response)
            return
        # The profile filters domains: LinkExtractor's allow_domains compares host:port.
        links = [
            Link(url=link.url)
            for link in self.link_extractor.extract_links(response)
            if self.profile.looks_like_article(link.url)
        ]
        yield from self._front_page(response)
        yield from self._articles(links)

    def _front_page(self, response: HtmlResponse) -> Iterable[FrontPage | CrawlFailure]:
        """The page's placements; nothing for a page without one article link (a consent wall,
        an error page: its stories did not leave); a failure for markup that cannot be read (the
        page's links are followed all the same)."""
        try:
            page = self.front_page(response)
        except (ValueError, etree.LxmlError) as exc:
            yield CrawlFailure(
                url=response.url,
                stage="parse",
                reason=f"placements not read: {exc}",
                http_status=response.status,
            )
            return
        if page.placements:
            yield page
        else:
            logger.warning("%s: no article links; placements not recorded", response.url)

    def front_page(self, response: HtmlResponse) -> FrontPage:
        """The section (or home) page's article links by rank and slot (``placements``)."""
        capture = response.meta.get(CAPTURE_META) or {}
        asked_for = _asked_for(response)
        return FrontPage(
            page=canonical_url(response.url) or response.url,
            # The home page, even when the site's root sends readers on to /en/ or /home.
            is_home=is_home_page(response.url) or is_home_page(asked_for),
            # the page as parsed for its links (LinkExtractor reads response.selector too)
            placements=placements_in(
                response.selector.root, response.url, is_article=self.profile.looks_like_article
            ),
            capture_id=capture.get("id"),
        )

    def _articles(self, links: Iterable[Link]) -> Iterable[scrapy.Request]:
        """Requests for a document's article links, newest first (undated links last)."""
        for link in sorted(links, key=lambda link: link.date or "", reverse=True):
            if request := self.article_request(link):
                yield request

    # -- pages ------------------------------------------------------------------------
    async def parse_article(
        self, response: Response, kind_hint: str | None = None
    ) -> AsyncIterator[Any]:
        if response.status == HTTP_NOT_MODIFIED:
            yield PageStatus(
                url=response.url,
                status="not_modified",
                http_status=HTTP_NOT_MODIFIED,
                article_id=_known_id(response.meta, response.url),
            )
            return
        redirected_from = (response.meta.get("redirect_urls") or [None])[0]
        if redirected_from and not same_page(redirected_from, response.url):
            yield _redirected_away(redirected_from, response)
        if self._redirected_offsite(response.meta, response.url):
            yield _offsite(redirected_from, response)
            return
        if not isinstance(response, HtmlResponse):
            self._page_failed()
            yield self._not_html(response)
            return
        async for item in self._extract(response, kind_hint):
            yield item

    async def _extract(self, response: Response, kind_hint: str | None) -> AsyncIterator[Any]:
        """The page's Article (from the part of it extraction reads), or its failure."""
        body, cut = fit_page(response.body, max_bytes=self.max_page_bytes)
        if cut:  # the article is archived from the part read; the row says what is missing
            logger.warning("%s: %s", response.url, cut)
            yield CrawlFailure(
                url=response.url, stage="page-cut", reason=cut, http_status=response.status
            )
        try:
            article = await self.extract_pool.extract(
                response.url, body, site=self.profile.name, encoding=_declared_charset(response)
            )
        except ExtractionError as exc:
            self._page_failed()
            yield CrawlFailure(
                url=response.url,
                stage=getattr(exc, "stage", "extract"),
                reason=str(exc),
                http_status=response.status,
            )
            return
        yield self._as_fetched(article, response, kind_hint)
        for request in self.transcript_requests(article):  # the videos' captions, if on
            yield request

    def _as_fetched(self, article: Article, response: Response, kind_hint: str | None) -> Article:
        """``article`` with what the crawl knows of it: site, kind, trusted canonical URL, fetch."""
        if kind_hint == "video" or self.profile.is_video(response.url):
            article.kind = "video"
        article.site = self.profile.name
        # A page cannot claim another site's article (or the home page) as its identity.
        article.canonical_url = canonical_url(
            trusted_canonical(response.url, article.canonical_url, self.profile.domains)
            or article.url
        )
        article.fetch = Fetch(
            status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            source_date=response.meta.get("newsarchive_source_date"),
            redirected_from=(response.meta.get("redirect_urls") or [None])[0],
        )
        return article

    def _redirected_offsite(self, meta: dict, url: str) -> bool:
        """Whether a redirect led off the profile's domains (article requests skip the offsite filter)."""
        return bool(
            meta.get("redirect_urls") and self.profile.domains and not self.profile.allows(url)
        )

    def _not_html(self, response: Response) -> CrawlFailure:
        ctype = _header(response, b"Content-Type") or "no Content-Type"
        return CrawlFailure(
            url=response.url,
            stage="content-type",
            reason=f"not HTML: {ctype}",
            http_status=response.status,
        )

    def _page_failed(self) -> None:
        """Count an article page that could not be archived (see newsarchive.crawl.crawl_outcome)."""
        self.crawler.stats.inc_value("newsarchive/pages_failed")

    def on_error(self, failure: Failure) -> Iterable[CrawlFailure | PageStatus]:
        """A failed request (``failure.request``, set by Scrapy) as items for the store."""
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        exc = failure.value
        if isinstance(exc, SkipUnchanged):
            self.crawler.stats.inc_value("newsarchive/pages_skipped")
            return
        gone = (
            isinstance(exc, HttpError)
            and exc.response.status in GONE_STATUSES
            and _known_id(request.meta, request.url)
        )
        if request.meta.get("newsarchive_article") and not gone:
            self._page_failed()
        yield from self._failure_items(failure, request)

    def _failure_items(
        self, failure: Failure, request: scrapy.Request
    ) -> Iterable[CrawlFailure | PageStatus]:
        """What a failed request leaves: its failures row, and the removal of a page gone."""
        exc = failure.value
        if isinstance(exc, NotCaptured):
            yield CrawlFailure(url=request.url, stage="replay", reason="not in the captures")
        elif self._redirected_offsite(request.meta, request.url):  # not followed, or failed there
            url = _asked_for(request)
            yield _offsite(url, request)
            if request.meta.get("newsarchive_article"):  # an archived page now sends readers away
                yield _redirected_away(url, request)
        elif isinstance(exc, HttpError):
            yield from _http_error(request, exc.response)
        elif isinstance(exc, IgnoreRequest):
            yield _ignored(request, failure)
        else:
            stage, reason = download_failure(
                exc or Exception(failure.getErrorMessage()),
                timeout=request.meta.get("download_timeout"),
            )
            yield CrawlFailure(
                url=_asked_for(request), stage=stage, reason=reason + _redirect_note(request)
            )


def _ignored(request: scrapy.Request, failure: Failure) -> CrawlFailure:
    """A request a middleware refused: a redirect loop, or the refusal's own stage and reason."""
    if str(failure.value) == _TOO_MANY_REDIRECTS:
        return CrawlFailure(
            url=_asked_for(request),
            stage="redirect",
            reason=f"redirect loop: gave up after {len(request.meta.get('redirect_urls', []))} "
            f"redirects (REDIRECT_MAX_TIMES), last to {request.url}",
        )
    return CrawlFailure(
        url=_asked_for(request),
        stage=getattr(failure.value, "stage", "ignored"),
        reason=(failure.getErrorMessage() or "ignored") + _redirect_note(request),
        http_status=getattr(failure.value, "http_status", None),
    )


def _removed(url: str, meta: dict, *, reason: str, http_status: int | None) -> PageStatus:
    """The archived page at ``url`` is gone (an error status, or a redirect to another page)."""
    return PageStatus(
        url=url,
        status="removed",
        reason=reason,
        http_status=http_status,
        article_id=_known_id(meta, url),
    )


def _redirected_away(url: str, target: Response | scrapy.Request) -> PageStatus:
    """An archived page at ``url`` that now redirects to another page (``target``): removed."""
    return _removed(
        url,
        target.meta,
        reason=f"redirected to {target.url}",
        http_status=_redirect_status(target.meta),
    )


def _http_error(request: scrapy.Request, response: Response) -> Iterable[CrawlFailure | PageStatus]:
    """An error status; a page that redirects to one: the failure and the removal name the page asked for."""
    url = _asked_for(request)
    reason = f"HTTP {response.status}{_redirect_note(request)}"
    yield CrawlFailure(url=url, stage="http", reason=reason, http_status=response.status)
    if response.status in GONE_STATUSES and request.meta.get("newsarchive_article"):
        yield _removed(url, request.meta, reason=reason, http_status=response.status)


def _asked_for(request: scrapy.Request | Response) -> str:
    """The URL a request (or its response) was first made for, before any redirect."""
    return (request.meta.get("redirect_urls") or [request.url])[0]


def _redirect_note(request: scrapy.Request) -> str:
    return f" (redirected to {request.url})" if _asked_for(request) != request.url else ""


def _offsite(redirected_from: str, target: Response | scrapy.Request) -> CrawlFailure:
    """A page that redirects off the profile's domains is not archived under the site."""
    return CrawlFailure(
        url=redirected_from,
        stage="offsite",
        reason=f"redirected off the site's domains to {target.url}",
        http_status=_redirect_status(target.meta),
    )


def _redirect_status(meta: dict) -> int | None:
    """The HTTP status of a request's first redirect (None for a <meta> refresh)."""
    reason = (meta.get("redirect_reasons") or [None])[0]
    return reason if isinstance(reason, int) else None


def _known_id(meta: dict, url: str) -> str | None:
    """The ``articles.id`` the incremental middleware found for ``url``, if any."""
    return meta.get("newsarchive_known_ids", {}).get(url)


def _declared_charset(response: Response) -> str | None:
    """The charset the server declares (extraction weighs it against the bytes themselves;
    Scrapy's own guess, ``response.encoding``, would take its place when there is none)."""
    return http_content_type_encoding(_header(response, b"Content-Type"))


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _date_priority(date: str | None) -> int:
    """Newer links get higher priority: days since 1970 (0 for undated links)."""
    if not date:
        return 0
    try:
        return (dt.date.fromisoformat(date[:_ISO_DATE_LENGTH]) - _EPOCH).days
    except ValueError:
        return 0
