"""Scrapy side of captures: write every exchange to WARC files, or answer from them.

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

``BodyCheckMiddleware`` (945, just below the capture) refuses a response whose body is not what
the server says it is: a gzip or deflate stream that ends early (a body cut short), or one that
inflates past ``DOWNLOAD_MAXSIZE`` (a compression bomb). The WARC keeps the broken exchange.
``OffsiteRedirectMiddleware`` (early, 60) refuses to follow a redirect off the profile's domains:
article and discovery requests bypass Scrapy's offsite filter (``dont_filter``), so without it a
page could make the crawler fetch (and capture) any host, internal ones included.
:func:`download_failure` turns any download exception into a stage and a readable sentence.

``CaptureLinkMiddleware`` (a spider middleware) copies the capture of a page's response onto
the ``Article`` items the page yields (``Article.capture_id``).
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from newsarchive import __version__
from newsarchive.capture.recorder import CrawlRecorder
from newsarchive.capture.writer import (
    CAPTURE_META,
    DEFAULT_MAX_BYTES,
    CaptureRef,
    RotatingWarcWriter,
    expand_patterns,
    index_warcs,
    read_capture,
    relative_to,
)
from newsarchive.items import Article
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
        self.recorder = CrawlRecorder.for_crawler(crawler)

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
            protocol=getattr(response, "protocol", None) or "HTTP/1.1",
            ip_address=str(ip) if ip else None,
        )
        capture = ref.to_dict()
        request.meta[CAPTURE_META] = capture
        self.crawler.stats.inc_value("newsarchive/captures")
        self.crawler.stats.inc_value("newsarchive/capture_bytes", ref.length)
        try:
            self.recorder.record_capture(capture)
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
    body as stored.
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
            if key and (key not in self.canonical or self.canonical[key].status == 304):
                self.canonical[key] = ref  # a full response rather than a 304
        self.recorder = CrawlRecorder.for_crawler(crawler)
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
        ref = self.index.get(request.url) or self.canonical.get(canonical_url(request.url) or "")
        if ref is None:
            self.crawler.stats.inc_value("newsarchive/replay/missing")
            if request.errback is None and not request.meta.get("newsarchive_media"):
                # Nobody will turn the error into an item (robots.txt, ...): record it here.
                self.recorder.record_failure(request.url, "replay", "not in the captures")
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
            self.recorder.record_capture(capture)
        except Exception:
            logger.exception("could not record capture %s of %s", ref.id, request.url)
        return response


#: Output produced per step while checking a compressed body (the output is thrown away).
INFLATE_CHUNK = 1 << 20
_COMPRESSED = {
    b"gzip": zlib.MAX_WBITS | 16,
    b"x-gzip": zlib.MAX_WBITS | 16,
    b"deflate": zlib.MAX_WBITS,
}


class BrokenBody(IgnoreRequest):
    """A response whose body is not what its headers say: a ``failures`` row, not an article."""

    def __init__(
        self, reason: str, *, stage: str = "truncated", http_status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage
        self.http_status = http_status


def compressed_body_problem(body: bytes, encoding: bytes, *, max_size: int = 0) -> str | None:
    """Why a ``Content-Encoding: gzip``/``deflate`` body cannot be trusted, or None: a stream that
    ends before its end marker, corrupt data, or more than ``max_size`` bytes once inflated.
    Inflates in steps and keeps nothing, so a bomb costs no memory."""
    wbits = _COMPRESSED.get(encoding.strip().lower())
    if wbits is None or not body:
        return None
    inflater = zlib.decompressobj(wbits)
    if encoding.strip().lower() == b"deflate" and body[:1] and body[0] & 0x0F != 8:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
    size, data = 0, body
    try:
        while data and not inflater.eof:
            size += len(inflater.decompress(data, INFLATE_CHUNK))
            if max_size and size > max_size:
                return (
                    f"compression bomb: the {encoding.decode('latin-1')} body inflates past "
                    f"{max_size} bytes (DOWNLOAD_MAXSIZE) from {len(body)} bytes"
                )
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        if "data check" in str(exc) or "length check" in str(exc):
            return None  # a wrong CRC or length in the trailer of a whole stream: tolerated, as by Scrapy's gunzip
        return f"corrupt {encoding.decode('latin-1')} body ({len(body)} bytes): {exc}"
    if not inflater.eof:
        return (
            f"body cut short: the {encoding.decode('latin-1')} stream ends early "
            f"({len(body)} bytes received, {size} bytes once inflated)"
        )
    return None


class BodyCheckMiddleware:
    """Refuse responses whose compressed body is cut short, corrupt or a bomb (see
    :func:`compressed_body_problem`) with :class:`BrokenBody`; a request without an errback
    (robots.txt) gets its ``failures`` row here."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.recorder = CrawlRecorder.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BodyCheckMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        encoding = response.headers.get(b"Content-Encoding")
        if not encoding or request.method == "HEAD" or response.status in (204, 304):
            return response
        max_size = request.meta.get("download_maxsize", self.max_size)
        problem = compressed_body_problem(response.body, encoding, max_size=max_size)
        if problem is None:
            return response
        self.crawler.stats.inc_value("newsarchive/broken_bodies")
        if request.errback is None and not request.meta.get("newsarchive_media"):
            self.recorder.record_failure(request.url, "truncated", problem, response.status)
        raise BrokenBody(problem, http_status=response.status)


_MAXSIZE = re.compile(r"(?:receive|Received) (?P<size>\d+) bytes .*max size \((?P<limit>\d+)\)")


class OffsiteRedirect(IgnoreRequest):
    """A redirect that leads off the profile's domains: not followed."""

    stage = "offsite"


class OffsiteRedirectMiddleware:
    """Refuse a redirected request whose host is not one of the spider profile's domains
    (pictures, which may live on a CDN, excepted)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OffsiteRedirectMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        profile = getattr(self.crawler.spider, "profile", None)
        if (
            not request.meta.get("redirect_urls")
            or request.meta.get("newsarchive_media")
            or profile is None
            or not profile.domains
            or profile.allows(request.url)
        ):
            return
        self.crawler.stats.inc_value("newsarchive/offsite_redirects")
        if request.errback is None:
            self.recorder.record_failure(
                request.meta["redirect_urls"][0],
                "offsite",
                f"redirected off the site's domains to {request.url}",
            )
        raise OffsiteRedirect(f"redirected off the site's domains to {request.url}")

    @property
    def recorder(self) -> CrawlRecorder:
        return CrawlRecorder.for_crawler(self.crawler)


_REPR = re.compile(
    r"\s*(?:in request )?<(?:GET|POST|HEAD) [^>]*>|\[?<[^<>]*\bat 0x[0-9a-fA-F]+>\]?|\[<twisted[^\]]*\]|<twisted[^>]*>"
)


def download_failure(exc: BaseException, *, timeout: float | None = None) -> tuple[str, str]:
    """A download exception as (stage, a sentence a journalist can read): no Python reprs."""
    name = type(exc).__name__
    if isinstance(exc, ResponseDataLossError) or name in ("_DataLoss", "PotentialDataLoss"):
        return (
            "truncated",
            "body cut short: the connection closed before the Content-Length the server declared",
        )
    if isinstance(exc, DownloadTimeoutError) or name in ("TimeoutError", "TCPTimedOutError"):
        limit = f" (DOWNLOAD_TIMEOUT {timeout:g} s)" if timeout else ""
        return "download", f"timed out: no complete answer in time{limit}"
    if isinstance(exc, DownloadConnectionRefusedError) or name == "ConnectionRefusedError":
        return "download", "connection refused"
    if isinstance(exc, CannotResolveHostError) or name == "DNSLookupError":
        return "download", "host name not found (DNS)"
    if isinstance(exc, DownloadCancelledError):
        if sizes := _MAXSIZE.search(str(exc)):
            return "download", (
                f"too large: {sizes['size']} bytes, more than DOWNLOAD_MAXSIZE "
                f"({sizes['limit']} bytes)"
            )
        return "download", f"download cancelled: {_readable(str(exc))}"
    if name in (
        "ResponseNeverReceived",
        "ConnectionDone",
        "ConnectionLost",
        "ConnectionAborted",
        "ResponseFailed",
        "DownloadFailedError",
    ):
        return "download", (
            "the server closed the connection without a complete answer "
            "(connection reset, or headers too large or malformed)"
        )
    return "download", f"download failed: {_readable(str(exc)) or name}"


def _readable(message: str) -> str:
    return " ".join(_REPR.sub("", message).split())


class CaptureLinkMiddleware(BaseSpiderMiddleware):
    """Spider middleware: an ``Article`` a page yields gets the capture of that page's response."""

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        if isinstance(item, Article) and response is not None and item.capture_id is None:
            capture = response.meta.get(CAPTURE_META) if response.request is not None else None
            if capture:
                item.capture_id = capture["id"]
        return item
