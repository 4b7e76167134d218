"""Extraction engine: one HTML page → one normalised :class:`~newsarchive.items.Article`.

Pure code (no Scrapy, no network). The page is decoded and parsed once; the lxml tree is
shared by every sub-extractor (structured data, platform rules, authors, images, videos,
language) and finally handed to trafilatura for the body when no platform rule gave a clean one.

    >>> from newsarchive.extract import extract_article
    >>> article = extract_article(url, html_bytes)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from newsarchive.extract.errors import ExtractionError
from newsarchive.items import Article

__all__ = ["ExtractionError", "extract_article"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _safe(what: str, func: Callable[..., T], *args: Any, default: T) -> T:
    """Run one sub-extractor; a bug in it costs that field, not the article."""
    try:
        return func(*args)
    except ExtractionError:
        raise
    except Exception:
        logger.warning("extracting %s failed", what, exc_info=True)
        return default


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
    from newsarchive.extract import (
        authors,
        body,
        images,
        language,
        metadata,
        platforms,
        structured,
        videos,
    )
    from newsarchive.extract.document import Page, decode, parse
    from newsarchive.processors import normalize_article

    if html is None:
        raise ExtractionError("no content")
    text = decode(html, encoding)
    tree = parse(text)
    url = url or ""
    page = Page(url=url, tree=tree, text=text)
    page.site = site or page.host or None
    page.meta = _safe("meta", structured.read_meta, tree, default={})
    page.jsonld = _safe("json-ld", structured.read_jsonld, tree, default=[])
    page.main = _safe("main json-ld node", structured.pick_main, page.jsonld, url, default={})
    known = _safe("platform", platforms.apply, page, default={})

    article = Article(url=url, site=page.site)
    article.canonical_url = _safe("canonical", metadata.extract_canonical, page, default=None)
    article.title = known.get("title") or _safe("title", metadata.extract_title, page, default=None)
    article.description = _safe("description", metadata.extract_description, page, default=None)
    article.authors = known.get("authors") or _safe(
        "authors", authors.extract_authors, page, default=[]
    )
    published, modified = _safe("dates", metadata.extract_dates, page, default=(None, None))
    article.published_raw = article.published = published
    article.modified_raw = article.modified = modified
    article.section = known.get("section") or _safe(
        "section", metadata.extract_section, page, default=None
    )
    article.tags = _safe("tags", metadata.extract_tags, page, default=[])
    article.images = _safe("images", images.extract_images, page, default=[])
    article.videos = _safe("videos", videos.extract_videos, page, default=[])
    watch = page.platform is None and _safe(
        "watch page", videos.youtube_watch_video, page, default=None
    )
    main_types = structured.types_of(page.main) if page.main else set()
    og_type = (page.meta_first("og:type") or "").lower()
    if (
        watch
        or (main_types & structured.VIDEO_TYPES and not main_types & structured.ARTICLE_TYPES)
        or og_type.startswith("video")
    ):
        article.kind = "video"
    if (
        article.kind == "video"
        and not article.authors
        and article.videos
        and article.videos[0].channel
    ):
        article.authors = [article.videos[0].channel]
    h1 = _safe("h1", metadata._h1, page, default=None)
    picture_texts = _safe("picture texts", body.picture_texts, page, default=[])
    # the body last: trafilatura prunes the shared tree
    body_text = known.get("body_text")
    if not body_text and article.kind == "video" and article.videos:
        body_text = article.videos[0].description
    if not body_text:
        body_text = _safe("body", _body_text, page, default=None)
    # printed captions and credits are not body text (an alt text standing in for a caption is
    # not printed; a body line repeating a long alt/title text is dropped through picture_texts)
    printed = [i for i in article.images if i.caption_source != "alt"]
    captions = [
        t
        for i in printed
        for t in (
            i.caption,
            i.credit,
            f"{i.caption} {i.credit}" if i.caption and i.credit else None,
        )
        if t
    ]
    captions += [
        i.credit for i in article.images if i.caption_source == "alt" and i.credit
    ] + picture_texts
    titles = [
        page.meta_first("og:title", "twitter:title"),
        structured.text_of(page.main.get("headline")) if page.main else None,
        h1,
    ]
    body_text = _safe(
        "body cleanup",
        body.drop_known_parts,
        body_text,
        article.title,
        captions,
        titles,
        default=body_text,
    )
    article.body_text = _safe("body furniture", body.drop_furniture, body_text, default=body_text)
    article.language = _safe("language", language.extract_language, page, body_text, default=None)
    words = _words(article.body_text)
    if article.kind == "article" and article.videos and words < VIDEO_PAGE_MAX_WORDS:
        article.kind = "video"  # a player and a few lines around it: the page is the video
    elif article.kind == "video" and not article.videos and words >= ARTICLE_MIN_WORDS:
        article.kind = "article"  # declared a video page, but no player was found and it is text
    return normalize_article(article)


def _body_text(page) -> str | None:
    """trafilatura's precision pass, rescued when it is a fragment of the body containers'
    prose, replaced by the JSON-LD articleBody when that is much longer."""
    from newsarchive.extract import body, structured

    reference = _safe(
        "body reference", body.prose_reference, page, default=""
    )  # before trafilatura prunes
    text = body.paragraphs_joined(body.trafilatura_text(page))
    article_body = (
        body.structured_body_text(structured.text_of(page.main.get("articleBody")))
        if page.main
        else None
    )
    text = body.rescue_fragment(page, text, reference, article_body)
    return body.prefer_structured_body(text, article_body)


#: A page with an embedded video and fewer words of text than this is a video page.
VIDEO_PAGE_MAX_WORDS = 80
#: A page that declares itself a video (og:type, VideoObject) but shows no player and at least
#: this many words of text is an article.
ARTICLE_MIN_WORDS = 250


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0
