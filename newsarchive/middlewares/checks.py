"""Checks next to the download: bodies that lie, redirects off the site, readable download errors.

``BodyCheckMiddleware`` (945, just below the capture at 950) refuses a response whose body is
not what the server says it is: a gzip or deflate stream that ends early (a body cut short), or
one that inflates past ``DOWNLOAD_MAXSIZE`` (a compression bomb). The WARC keeps the broken
exchange. ``OffsiteRedirectMiddleware`` (early, 60) refuses to follow a redirect off the
profile's domains: article and discovery requests bypass Scrapy's offsite filter
(``dont_filter``), so without it a page could make the crawler fetch (and capture) any host,
internal ones included. A request without an errback (robots.txt) gets its ``failures`` row
from the middleware itself (through :class:`~newsarchive.extension.ArchiveExtension`); the
others become ``CrawlFailure`` items in the spider's errback.
:func:`download_failure` turns any download exception into a stage and a readable sentence.
"""

from __future__ import annotations

import re
import zlib

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.responsetypes import responsetypes

from newsarchive.capture.writer import GZIP_WBITS
from newsarchive.extension import ArchiveExtension
from newsarchive.items import CrawlFailure, FailureStage

#: Output produced per step while checking a compressed body (the output is thrown away).
INFLATE_CHUNK = 1 << 20
#: The compression method a zlib header names in its low four bits: 8 is deflate.
_ZLIB_METHOD_MASK, _ZLIB_DEFLATE = 0x0F, 8
#: Statuses whose answer has no body to check.
_NO_BODY_STATUSES = (204, 304)
_COMPRESSED = {
    b"gzip": GZIP_WBITS,
    b"x-gzip": GZIP_WBITS,
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


def inflate_checked(
    body: bytes, encoding: bytes, *, max_size: int = 0
) -> tuple[str | None, bytes | None]:
    """(why a ``Content-Encoding: gzip``/``deflate`` body cannot be trusted, or None; the body
    inflated, or None). The problem: a stream that ends before its end marker, corrupt data, or
    more than ``max_size`` bytes once inflated. Inflates in steps, so that a bomb stops at
    ``max_size``. The inflated body is given only for one whole stream that inflated cleanly;
    a tolerated fault (a wrong CRC or length in the trailer, as Scrapy's gunzip tolerates) or
    data after the stream leave it None, for Scrapy's HttpCompressionMiddleware to decode as it
    always has."""
    wbits = _COMPRESSED.get(encoding.strip().lower())
    if wbits is None or not body:
        return None, None
    inflater = zlib.decompressobj(wbits)
    if (
        encoding.strip().lower() == b"deflate"
        and body[:1]
        and body[0] & _ZLIB_METHOD_MASK != _ZLIB_DEFLATE
    ):
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
    size, data, chunks = 0, body, []
    try:
        while data and not inflater.eof:
            chunks.append(inflater.decompress(data, INFLATE_CHUNK))
            size += len(chunks[-1])
            if max_size and size > max_size:
                return (
                    f"compression bomb: the {encoding.decode('latin-1')} body inflates past "
                    f"{max_size} bytes (DOWNLOAD_MAXSIZE) from {len(body)} bytes"
                ), None
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        if "data check" in str(exc) or "length check" in str(exc):
            return None, None  # tolerated, as by Scrapy's gunzip
        return f"corrupt {encoding.decode('latin-1')} body ({len(body)} bytes): {exc}", None
    if not inflater.eof:
        return (
            f"body cut short: the {encoding.decode('latin-1')} stream ends early "
            f"({len(body)} bytes received, {size} bytes once inflated)"
        ), None
    return None, (None if inflater.unused_data else b"".join(chunks))


def decoded(response: Response, body: bytes) -> Response:
    """``response`` with its inflated ``body`` and no Content-Encoding, as Scrapy's
    HttpCompressionMiddleware makes it (the response class chosen again from the body). The
    headers are a copy: the captured response keeps its own."""
    headers = response.headers.copy()
    del headers[b"Content-Encoding"]
    cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
    if issubclass(cls, TextResponse):
        return response.replace(cls=cls, body=body, headers=headers, encoding=None)
    return response.replace(cls=cls, body=body, headers=headers)


class BodyCheckMiddleware:
    """Refuse responses whose compressed body is cut short, corrupt or a bomb (see
    :func:`inflate_checked`) with :class:`BrokenBody`; a request without an errback
    (robots.txt) gets its ``failures`` row here. A body it inflated cleanly goes on decoded."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.extension = ArchiveExtension.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BodyCheckMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        encoding = response.headers.get(b"Content-Encoding")
        if not encoding or request.method == "HEAD" or response.status in _NO_BODY_STATUSES:
            return response
        max_size = request.meta.get("download_maxsize", self.max_size)
        problem, body = inflate_checked(response.body, encoding, max_size=max_size)
        if problem is None:
            # Inflated once here, not a second time by HttpCompressionMiddleware (~0.6 ms a
            # page); a body encoded twice (two Content-Encoding lines) is left to it.
            if body is None or len(response.headers.getlist(b"Content-Encoding")) > 1:
                return response
            return decoded(response, body)
        self.crawler.stats.inc_value("newsarchive/broken_bodies")
        if request.errback is None and not request.meta.get("newsarchive_media"):
            self.extension.record_failure(
                CrawlFailure(
                    url=request.url, stage="truncated", reason=problem, http_status=response.status
                )
            )
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
        self.extension = ArchiveExtension.of(crawler)

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
        reason = f"redirected off the site's domains to {request.url}"
        if request.errback is None:
            self.extension.record_failure(
                CrawlFailure(url=request.meta["redirect_urls"][0], stage="offsite", reason=reason)
            )
        raise OffsiteRedirect(reason)


_REPR = re.compile(
    r"\s*(?:in request )?<(?:GET|POST|HEAD) [^>]*>|\[?<[^<>]*\bat 0x[0-9a-fA-F]+>\]?|\[<twisted[^\]]*\]|<twisted[^>]*>"
)


def download_failure(
    exc: BaseException, *, timeout: float | None = None
) -> tuple[FailureStage, str]:
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
