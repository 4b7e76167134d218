"""Discovery: turn robots.txt, sitemaps and feeds into dated links.

Pure functions over bytes; the spiders turn their results into requests.
"""

from __future__ import annotations

from newsarchive.discovery.feeds import parse_feed
from newsarchive.discovery.links import Link
from newsarchive.discovery.sitemaps import (
    SitemapDocument,
    SitemapTooLarge,
    parse_sitemap,
    sitemap_body,
    sitemaps_from_robots,
)

__all__ = [
    "Link",
    "SitemapDocument",
    "SitemapTooLarge",
    "parse_feed",
    "parse_sitemap",
    "sitemap_body",
    "sitemaps_from_robots",
]
