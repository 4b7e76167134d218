"""Captures, Scrapy side: write every exchange to WARC files, or answer requests from them.

Order (``DOWNLOADER_MIDDLEWARES`` in ``newsarchive/settings.py``): both downloader middlewares
sit at 950/960, past every built-in one (the highest, HttpCacheMiddleware, is 900), i.e. next
to the download handler. So:

- ``WarcCaptureMiddleware.process_response`` is the first to see a response, exactly as the
  network gave it: before ``HttpCompressionMiddleware`` (590) decodes gzip/deflate/br (the WARC
  keeps the encoded body with its ``Content-Encoding``, as the WARC standard wants), before
  ``RedirectMiddleware`` (600) turns a 3xx into a new request and before ``RetryMiddleware``
  (550) retries a 5xx: every redirect hop and every retried attempt is a capture of its own.
  Its request record shows the headers the other middlewares set (User-Agent, Accept-Encoding,
  cookies, conditional headers). Robots.txt, feeds, sitemaps, pages and pictures all pass here.
- ``WarcReplayMiddleware.process_request`` runs last, where the download would start, and
  returns the stored response; Scrapy then runs every ``process_response`` as for a download,
  so decompression, redirects, retries, robots.txt and the spiders behave as they did live.

The checks next to them (``BodyCheckMiddleware``, ``OffsiteRedirectMiddleware``) are in
:mod:`newsarchive.middlewares.checks`; the WARC files themselves in :mod:`newsarchive.capture`.

``CaptureLinkMiddleware`` (a spider middleware) copies the capture of a page's response onto
the ``Article`` items the page yields (``Article.capture_id``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from newsarchive import __version__
from newsarchive.capture.writer import (
    CAPTURE_META,
    DEFAULT_MAX_BYTES,
    DEFAULT_PROTOCOL,
    HTTP_NOT_MODIFIED,
    CaptureRef,
    RotatingWarcWriter,
    exchange_key,
    expand_patterns,
    index_warcs,
    read_capture,
    relative_to,
)
from newsarchive.extension import ArchiveExtension
from newsarchive.items import Article, CrawlFailure
from newsarchive.processors import canonical_url

logger = logging.getLogger(__name__)


def warc_dir(settings) -> Path:
    """``NEWSARCHIVE_WARC_DIR``, by default ``captures/`` beside the archive file."""
    folder = settings.get("NEWSARCHIVE_WARC_DIR")
    if folder:
        return Path(folder).expanduser()
    return (
        Path(settings.get("NEWSARCHIVE_DB") or "archive.db").expanduser().resolve().parent
        / "captures"
    )


def replay_patterns(settings) -> list[str]:
    value = settings.get("NEWSARCHIVE_REPLAY")
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


class NotCaptured(IgnoreRequest):
    """Replay: the WARC files hold no response for this URL."""


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, values in headers.items()
        for value in values
    ]


class WarcCaptureMiddleware:
    """Write every response the crawl receives, with its request, to rotating gzip WARC files,
    and a ``captures`` row for each; the capture goes to ``request.meta[CAPTURE_META]``.

    Off when replaying (``NEWSARCHIVE_REPLAY``) or with ``NEWSARCHIVE_WARC_ENABLED=False``.
    """

    def __init__(self, crawler: Crawler, folder: Path, max_bytes: int) -> None:
        self.crawler = crawler
        self.folder = folder
        self.writer = RotatingWarcWriter(
            folder,
            max_bytes=max_bytes,
            software=f"newsarchive/{__version__}",
            info={
                "operator": crawler.settings.get("NEWSARCHIVE_CONTACT_URL") or "",
                "robots": "obey" if crawler.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            },
        )
        self.extension = ArchiveExtension.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        if replay_patterns(settings):
            raise NotConfigured("replaying: no new captures")
        if not settings.getbool("NEWSARCHIVE_WARC_ENABLED", True):
            raise NotConfigured("NEWSARCHIVE_WARC_ENABLED is off")
        middleware = cls(
            crawler,
            warc_dir(settings),
            settings.getint("NEWSARCHIVE_WARC_MAX_BYTES", DEFAULT_MAX_BYTES),
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags or not request.url.startswith(("http://", "https://")):
            return response
        headers = _header_pairs(request.headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", urlsplit(request.url).netloc))
        ip = getattr(response, "ip_address", None)
        ref = self.writer.write_exchange(
            url=request.url,
            method=request.method,
            request_headers=headers,
            request_body=request.body or b"",
            status=response.status,
            response_headers=_header_pairs(response.headers),
            body=response.body,
            protocol=getattr(response, "protocol", None) or DEFAULT_PROTOCOL,
            ip_address=str(ip) if ip else None,
        )
        capture = ref.to_dict()
        request.meta[CAPTURE_META] = capture
        self.crawler.stats.inc_value("newsarchive/captures")
        self.crawler.stats.inc_value("newsarchive/capture_bytes", ref.length)
        try:
            self.extension.record_capture(capture)
        except Exception:  # the WARC holds it; a missing row must not lose the page
            logger.exception("could not record capture %s of %s", ref.id, request.url)
        return response

    def spider_closed(self, spider: Any) -> None:
        self.writer.close()
        if self.writer.files:
            logger.info("captures: %d WARC file(s) in %s", len(self.writer.files), self.folder)


class WarcReplayMiddleware:
    """Answer every request from WARC files (``NEWSARCHIVE_REPLAY``: glob patterns) instead of
    the network: the latest capture of the request's URL (or, failing that, of the same URL
    without tracking parameters: the response then has the captured URL), status, headers and
    body as stored. A POST is answered only by a capture of the same method, URL and body.
    A URL the files don't hold raises :class:`NotCaptured` (a ``failures`` row, stage "replay").
    The replayed captures become ``captures`` rows of the archive being written, so its articles
    link to them (``warc_file`` relative to ``NEWSARCHIVE_WARC_DIR`` when inside it, else absolute).
    """

    def __init__(self, crawler: Crawler, files: list[Path]) -> None:
        self.crawler = crawler
        self.files = files
        self.folder = warc_dir(crawler.settings)
        self.index: dict[str, CaptureRef] = index_warcs(files)
        # The same page under another spelling (tracking parameters, parameter order): live,
        # discovery may have reached it through a feed link first, in replay through a section.
        self.canonical: dict[str, CaptureRef] = {}
        for url, ref in self.index.items():
            key = canonical_url(url)
            if key and (
                key not in self.canonical or self.canonical[key].status == HTTP_NOT_MODIFIED
            ):
                self.canonical[key] = ref  # a full response rather than a 304
        self.extension = ArchiveExtension.of(crawler)
        logger.info("replay: %d captured URLs in %d WARC file(s)", len(self.index), len(files))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcReplayMiddleware:
        patterns = replay_patterns(crawler.settings)
        if not patterns:
            raise NotConfigured  # not replaying: nothing to say
        files = expand_patterns(patterns)
        if not files:
            raise ValueError(f"NEWSARCHIVE_REPLAY: no WARC file matches {patterns}")
        return cls(crawler, files)

    def process_request(self, request: Request) -> Response | None:
        ref = self._lookup(request)
        if ref is None:
            self.crawler.stats.inc_value("newsarchive/replay/missing")
            if request.errback is None and not request.meta.get("newsarchive_media"):
                # Nobody will turn the error into an item (robots.txt, ...): record it here.
                self.extension.record_failure(
                    CrawlFailure(url=request.url, stage="replay", reason="not in the captures")
                )
            raise NotCaptured(f"not in the captures: {request.url}")
        stored = read_capture(ref.warc_file, ref.offset)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
        scrapy_headers = Headers()
        for key, value in headers:
            scrapy_headers.appendlist(key, value)
        cls = responsetypes.from_args(headers=scrapy_headers, url=request.url, body=stored.body)
        # The URL is the one captured: the request's own, or the same page's other spelling.
        response = cls(
            url=ref.url,
            status=stored.status,
            headers=scrapy_headers,
            body=stored.body,
            flags=["replay"],
            request=request,
            protocol=stored.protocol,
        )
        capture = {**ref.to_dict(), "warc_file": relative_to(ref.warc_file, self.folder)}
        request.meta[CAPTURE_META] = capture
        self.crawler.stats.inc_value("newsarchive/replay/responses")
        try:
            self.extension.record_capture(capture)
        except Exception:
            logger.exception("could not record capture %s of %s", ref.id, request.url)
        return response

    def _lookup(self, request: Request) -> CaptureRef | None:
        """The capture answering ``request``: a POST (or any request with a body) only by its
        method, URL and body (:func:`exchange_key`); a GET by its URL, or the same page's."""
        key = exchange_key(request.url, request.method, request.body or b"")
        if key != request.url:
            return self.index.get(key)
        return self.index.get(request.url) or self.canonical.get(canonical_url(request.url) or "")


class CaptureLinkMiddleware(BaseSpiderMiddleware):
    """Spider middleware: an ``Article`` a page yields gets the capture of that page's response."""

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if isinstance(item, Article) and response is not None and item.capture_id is None:
            capture = response.meta.get(CAPTURE_META) if response.request is not None else None
            if capture:
                item.capture_id = capture["id"]
        return item
