"""Sitemaps: robots.txt Sitemap lines, sitemap indexes, news/video/image sitemaps."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import sitemap_urls_from_robots

from newsarchive.discovery.links import Link
from newsarchive.discovery.xml import local_name, parse_xml
from newsarchive.processors import absolute_url, clean_line, to_iso_utc


@dataclass
class SitemapDocument:
    """A parsed sitemap: either an index of sitemaps or a set of page links."""

    is_index: bool
    links: list[Link] = field(default_factory=list)


class SitemapTooLarge(ValueError):
    """A gzipped sitemap larger than the download size limit once decompressed."""


def sitemap_body(response: Response, *, max_size: int = 0) -> bytes:
    """The XML of a sitemap response, gunzipped when the bytes are gzip (``sitemap.xml.gz`` served
    as a file, or gzip bytes under any name), as Scrapy's SitemapSpider reads it; a body over
    ``max_size`` bytes once decompressed (0: no limit) is SitemapTooLarge."""
    if not gzip_magic_number(response):
        return response.body
    try:
        return gunzip(response.body, max_size=max_size)
    except _DecompressionMaxSizeExceeded as exc:
        raise SitemapTooLarge(f"larger than {max_size} bytes once decompressed") from exc
    except (OSError, EOFError) as exc:
        raise SitemapTooLarge(f"broken gzip data: {exc}") from exc


def sitemaps_from_robots(body: bytes, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs that a robots.txt lists."""
    return list(sitemap_urls_from_robots(body, base_url=base_url))


def _child_text(elem, *path: str) -> str | None:
    """Text of the first descendant following local names ``path`` (namespace-agnostic)."""
    current = [elem]
    for name in path:
        current = [c for e in current for c in e if local_name(c.tag) == name]
        if not current:
            return None
    text = (current[0].text or "").strip()
    return text or None


def parse_sitemap(body: bytes, base_url: str) -> SitemapDocument:
    """Parse a sitemap or sitemap index (namespaces ignored, broken XML recovered)."""
    root = parse_xml(body, base_url)
    if root is None:
        return SitemapDocument(is_index=False)
    is_index = local_name(root.tag) == "sitemapindex"
    links = []
    for elem in root:
        if local_name(elem.tag) not in ("url", "sitemap"):
            continue
        url = absolute_url(_child_text(elem, "loc"), base_url)
        if not url:
            continue
        modified = to_iso_utc(_child_text(elem, "lastmod"))
        published = _child_text(elem, "news", "publication_date") or _child_text(
            elem, "video", "publication_date"
        )
        title = _child_text(elem, "news", "title") or _child_text(elem, "video", "title")
        is_video = any(local_name(c.tag) == "video" for c in elem)
        links.append(
            Link(
                url=url,
                date=to_iso_utc(published) or modified,
                modified=modified,
                title=clean_line(title),
                kind="video" if is_video else None,
            )
        )
    return SitemapDocument(is_index=is_index, links=links)
