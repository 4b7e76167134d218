"""Extraction engine: one HTML page → one normalised :class:`~newsarchive.items.Article`.

Pure code (no Scrapy, no network). The page is decoded and parsed once; the lxml tree is
shared by every sub-extractor (structured data, platform rules, authors, images, videos,
language) and finally handed to trafilatura for the body when no platform rule gave a clean one.

    >>> from newsarchive.extract import extract_article
    >>> article = extract_article(url, html_bytes)
"""

from __future__ import annotations

import logging

from newsarchive.extract.errors import ExtractionError
from newsarchive.items import Article

__all__ = ["ExtractionError", "extract_article"]

logger = logging.getLogger(__name__)


def extract_article(
    url: str, html: str | bytes, *, site: str | None = None, encoding: str | None = None
) -> Article:
    """Extract a normalised Article from one page.

    ``html`` may be text or bytes (decoded from BOM, ``encoding``, <meta charset> or
    detection). Raises :class:`ExtractionError` when the input cannot be parsed into a
    document; never any other exception.
    """
    try:
        return _extract(url, html, site=site, encoding=encoding)
    except ExtractionError:
        raise
    except RecursionError as exc:
        raise ExtractionError(f"document too deeply nested: {url}") from exc
    except Exception as exc:
        logger.warning("extraction failed for %s", url, exc_info=True)
        raise ExtractionError(f"extraction failed: {type(exc).__name__}: {exc}") from exc


def _extract(url: str, html: str | bytes, *, site: str | None, encoding: str | None) -> Article:
    from newsarchive.extract.stages import extract  # the sub-extractors load on first use

    return extract(url, html, site=site, encoding=encoding)
