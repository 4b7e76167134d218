"""Sitemaps: robots.txt Sitemap lines, sitemap indexes, news/video/image sitemaps."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import lxml.etree
from scrapy.utils.sitemap import sitemap_urls_from_robots

from newsarchive.discovery.links import Link
from newsarchive.processors import absolute_url, clean_line, to_iso_utc

logger = logging.getLogger(__name__)

_PARSER = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


@dataclass
class SitemapDocument:
    """A parsed sitemap: either an index of sitemaps or a set of page links."""

    is_index: bool
    links: list[Link] = field(default_factory=list)


def sitemaps_from_robots(body: bytes, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs that a robots.txt lists."""
    return list(sitemap_urls_from_robots(body, base_url=base_url))


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(elem, *path: str) -> str | None:
    """Text of the first descendant following local names ``path`` (namespace-agnostic)."""
    current = [elem]
    for name in path:
        current = [c for e in current for c in e if _local(c.tag) == name]
        if not current:
            return None
    text = (current[0].text or "").strip()
    return text or None


def parse_sitemap(body: bytes, base_url: str) -> SitemapDocument:
    """Parse a sitemap or sitemap index (namespaces ignored, broken XML recovered)."""
    try:
        root = lxml.etree.fromstring(body, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        logger.warning("unparsable sitemap %s: %s", base_url, exc)
        return SitemapDocument(is_index=False)
    if root is None:
        return SitemapDocument(is_index=False)
    is_index = _local(root.tag) == "sitemapindex"
    links = []
    for elem in root:
        if _local(elem.tag) not in ("url", "sitemap"):
            continue
        url = absolute_url(_child_text(elem, "loc"), base_url)
        if not url:
            continue
        date = _child_text(elem, "news", "publication_date") or _child_text(
            elem, "video", "publication_date") or _child_text(elem, "lastmod")
        title = _child_text(elem, "news", "title") or _child_text(elem, "video", "title")
        kind = "video" if any(_local(c.tag) == "video" for c in elem) else None
        links.append(Link(url=url, date=to_iso_utc(date), title=clean_line(title), kind=kind))
    return SitemapDocument(is_index=is_index, links=links)
