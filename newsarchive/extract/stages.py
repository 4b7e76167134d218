"""The stages of one extraction, in the order :func:`newsarchive.extract.extract_article` runs
them: parse the page, read its structured data and platform, then the fields (metadata, pictures,
videos), the kind of page, and the body last (trafilatura prunes the shared tree), cleaned of
what the other fields already hold.

Each sub-extractor runs through :func:`safe`: a bug in one costs that field, not the article.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

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
from newsarchive.extract.errors import ExtractionError
from newsarchive.items import Article, ArticleKind, Image
from newsarchive.processors import normalize_article

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: A page with an embedded video and fewer words of text than this is a video page.
VIDEO_PAGE_MAX_WORDS = 80
#: A page that declares itself a video (og:type, VideoObject) but shows no player and at least
#: this many words of text is an article.
ARTICLE_MIN_WORDS = 250


def safe(what: str, func: Callable[..., T], *args: Any, default: T) -> T:
    """Run one sub-extractor; a bug in it costs that field, not the article."""
    try:
        return func(*args)
    except ExtractionError:
        raise
    except Exception:
        logger.warning("extracting %s failed", what, exc_info=True)
        return default


def extract(url: str, html: str | bytes, *, site: str | None, encoding: str | None) -> Article:
    """Every stage, in order; the Article normalised."""
    page = read_page(url, html, site=site, encoding=encoding)
    known: dict[str, Any] = safe("platform", platforms.apply, page, default={})
    article = read_fields(page, known)
    article.kind = declared_kind(page)
    if article.kind == "video" and not article.authors and article.videos:
        channel = article.videos[0].channel
        if channel:
            article.authors = [channel]  # a video page's byline is its channel
    read_body(page, article, known)
    article.kind = kind_by_text(article)
    return normalize_article(article)


def read_page(url: str, html: str | bytes, *, site: str | None, encoding: str | None) -> Page:
    """The decoded, parsed page with its meta tags, JSON-LD and main JSON-LD node."""
    if html is None:
        raise ExtractionError("no content")
    text = decode(html, encoding)
    page = Page(url=url or "", tree=parse(text), text=text)
    page.site = site or page.host or None
    page.meta = safe("meta", structured.read_meta, page.tree, default={})
    page.jsonld = safe("json-ld", structured.read_jsonld, page.tree, default=[])
    page.main = safe("main json-ld node", structured.pick_main, page.jsonld, page.url, default={})
    return page


def read_fields(page: Page, known: dict[str, Any]) -> Article:
    """Every field but the body and the kind; a platform's ``known`` fields come first."""
    article = Article(url=page.url, site=page.site)
    article.canonical_url = safe("canonical", metadata.extract_canonical, page, default=None)
    article.title = known.get("title") or safe("title", metadata.extract_title, page, default=None)
    article.description = safe("description", metadata.extract_description, page, default=None)
    article.authors = known.get("authors") or safe(
        "authors", authors.extract_authors, page, default=list[str]()
    )
    no_dates: tuple[str | None, str | None] = (None, None)
    published, modified = safe("dates", metadata.extract_dates, page, default=no_dates)
    article.published_raw = article.published = published
    article.modified_raw = article.modified = modified
    article.section = known.get("section") or safe(
        "section", metadata.extract_section, page, default=None
    )
    article.tags = safe("tags", metadata.extract_tags, page, default=[])
    article.images = safe("images", images.extract_images, page, default=[])
    article.videos = safe("videos", videos.extract_videos, page, default=[])
    return article


def declared_kind(page: Page) -> ArticleKind:
    """ "video" for a YouTube watch page, a page whose main node is a video and no article, or
    whose og:type is a video; else "article"."""
    watch = page.platform is None and safe(
        "watch page", videos.youtube_watch_video, page, default=None
    )
    main_types = structured.types_of(page.main) if page.main else set()
    og_type = (page.meta_first("og:type") or "").lower()
    if (
        watch
        or (main_types & structured.VIDEO_TYPES and not main_types & structured.ARTICLE_TYPES)
        or og_type.startswith("video")
    ):
        return "video"
    return "article"


def read_body(page: Page, article: Article, known: dict[str, Any]) -> None:
    """The body text (a platform's, a video page's description, else :func:`body_text`), without
    the headline, picture texts and site furniture; the language, judged on that text."""
    h1 = safe("h1", lambda: page.h1, default=None)
    pictures: list[str] = safe("picture texts", body.picture_texts, page, default=[])
    # the body last: trafilatura prunes the shared tree
    text = known.get("body_text")
    if not text and article.kind == "video" and article.videos:
        text = article.videos[0].description
    if not text:
        text = safe("body", body_text, page, default=None)
    titles = [
        page.meta_first("og:title", "twitter:title"),
        structured.text_of(page.main.get("headline")) if page.main else None,
        h1,
    ]
    text = safe(
        "body cleanup",
        body.drop_known_parts,
        text,
        article.title,
        picture_captions(article.images) + pictures,
        titles,
        default=text,
    )
    article.body_text = safe("body furniture", body.drop_furniture, text, default=text)
    article.language = safe("language", language.extract_language, page, text, default=None)


def picture_captions(pictures: list[Image]) -> list[str]:
    """Printed captions and credits, which are not body text. An alt text standing in for a
    caption is not printed (a body line repeating a long alt text goes through
    :func:`body.picture_texts`), but the credit beside it is."""
    texts: list[str | None] = []
    for image in pictures:
        if image.caption_source != "alt":
            both = f"{image.caption} {image.credit}" if image.caption and image.credit else None
            texts += [image.caption, image.credit, both]
    texts += [image.credit for image in pictures if image.caption_source == "alt"]
    return [text for text in texts if text]


def body_text(page: Page) -> str | None:
    """trafilatura's precision pass, rescued when it is a fragment of the body containers'
    prose, replaced by the JSON-LD articleBody when that is much longer."""
    # the reference is read before trafilatura prunes the tree
    prose = safe("body reference", body.page_prose, page, default=None)
    text = body.paragraphs_joined(body.trafilatura_text(page, prose=prose))
    article_body = (
        body.structured_body_text(structured.text_of(page.main.get("articleBody")))
        if page.main
        else None
    )
    text = body.rescue_fragment(page, text, prose, article_body)
    return body.prefer_structured_body(text, article_body)


def kind_by_text(article: Article) -> ArticleKind:
    """The kind the text settles: a player with a few lines around it is a video page; a page
    declared a video, without a player, that is mostly text is an article."""
    words = len(article.body_text.split()) if article.body_text else 0
    if article.kind == "article" and article.videos and words < VIDEO_PAGE_MAX_WORDS:
        return "video"
    if article.kind == "video" and not article.videos and words >= ARTICLE_MIN_WORDS:
        return "article"
    return article.kind
