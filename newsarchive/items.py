"""Typed items: what a crawl archives.

Every field documents its format. Normalised values sit next to the raw text
they came from (``published`` and ``published_raw``), so that a later, better
normaliser can be re-run on the raw value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ArticleKind = Literal["article", "video"]
"""What an archived page is (``articles.kind``): "article" for a news article, "video" for a
page whose main content is a video (declared so by og:type or a VideoObject with no Article
type, a YouTube watch page, a profile's ``video_patterns``, or a player with fewer than 80
words of text around it). Normalisation turns any other value into "article"."""

FailureStage = Literal[
    "http",
    "offsite",
    "redirect",
    "ignored",
    "download",
    "truncated",
    "sitemap",
    "content-type",
    "decode",
    "parse",
    "extract",
    "page-cut",
    "validate",
    "image",
    "replay",
    "transcript",
]
"""Where a page or picture failed (``failures.stage``), in the order a page meets them:

- "http": an error status (404, 500 …), or a redirect to one;
- "offsite": redirected to a host outside the site's domains (or a dead host);
- "redirect": a redirect loop, or too many redirects;
- "ignored": the request was dropped (robots.txt forbids it);
- "download": no complete answer (timeout, connection refused or reset, DNS, too large);
- "truncated": a body cut short, broken compression, a compression bomb;
- "sitemap": a sitemap that cannot be read (too large, not XML);
- "content-type": not HTML (the header says so, or the bytes are binary);
- "decode": no encoding reads the bytes without replacement characters;
- "parse": markup nested deeper than the parser goes;
- "extract": extraction failed or timed out;
- "page-cut": archived from its first part only (``NEWSARCHIVE_MAX_PAGE_BYTES``);
- "validate": no title and no body, nothing worth an ``articles`` row;
- "image": a picture that could not be downloaded or is not a picture;
- "replay": a replayed crawl asked for a URL the captures do not hold;
- "transcript": a video's caption track list or timed text could not be fetched or read (a
  video without captions is no failure).
"""


@dataclass
class Image:
    """A picture that belongs to an article (lead or in-body)."""

    url: str
    """Absolute URL of the largest size the page offers."""
    caption: str | None = None
    """Caption text, without the credit; whitespace collapsed, Unicode NFC."""
    credit: str | None = None
    """Photo credit as printed ("REUTERS/Leah Millis"), raw but cleaned of "Photo:" prefixes."""
    photographer: str | None = None
    """Person's name parsed from ``credit`` ("Leah Millis"), or None."""
    agency: str | None = None
    """Agency or organisation parsed from ``credit`` ("Reuters"), or None."""
    alt: str | None = None
    """The ``alt`` attribute, kept apart from the caption."""
    caption_source: str | None = None
    """Where ``caption`` comes from: "page" (printed beside the picture: figcaption, caption
    element, text under it), "structured" (JSON-LD ImageObject caption / og:image:alt), "alt"
    (the page shows none, so the alt text stands in), or None when there is no caption."""
    width: int | None = None
    """Width in pixels as declared by the page (attribute, srcset or JSON-LD), or None."""
    height: int | None = None
    """Height in pixels as declared by the page, or None."""
    position: int = 0
    """0-based order of the picture in the article; the lead picture is 0."""
    is_lead: bool = False
    """True for the article's lead (cover) picture."""
    # The fields below are set by the images pipeline when it has downloaded the picture
    # (None otherwise); extraction never sets them and they are not part of the content.
    file_format: str | None = None
    """Format of the downloaded file as Pillow reads it: "JPEG", "PNG", "GIF" or "WEBP"."""
    file_width: int | None = None
    """Width in pixels of the downloaded file (after its EXIF orientation)."""
    file_height: int | None = None
    """Height in pixels of the downloaded file (after its EXIF orientation)."""
    file_bytes: int | None = None
    """Size of the downloaded file in bytes."""
    sha256: str | None = None
    """SHA-256 of the downloaded file, hex."""
    phash: str | None = None
    """Perceptual hash (imagehash.phash, 64 bits as 16 hex digits): equal for the same picture
    re-encoded or resized."""
    file_path: str | None = None
    """Where the full-size file was stored, relative to ``IMAGES_STORE`` ("full/ab/abcd….jpg")."""
    thumbnail: bytes | None = None
    """A JPEG thumbnail, at most 320 pixels on its longer side."""
    capture_id: str | None = None
    """The WARC capture of the download (``captures.id``), or None."""


@dataclass
class Video:
    """A video embedded in, or forming, an article."""

    provider: str
    """Lower-case provider name: "youtube", "vimeo", or "html5" for a plain <video> file."""
    video_id: str
    """The provider's id (YouTube's 11-character id); the file URL for html5."""
    url: str
    """Canonical watch URL (https://www.youtube.com/watch?v=ID for YouTube)."""
    title: str | None = None
    """Title, if the page or its structured data gives one."""
    description: str | None = None
    """Description text, if given."""
    duration_s: int | None = None
    """Duration in whole seconds (from ISO 8601 ``PT1M30S`` or a seconds count), or None."""
    published: str | None = None
    """Upload date, ISO 8601 in UTC (``2024-05-01T12:00:00+00:00``) or a bare date."""
    thumbnail_url: str | None = None
    """Absolute URL of a thumbnail picture, or None."""
    channel: str | None = None
    """Channel or uploader name, or None."""


@dataclass
class Fetch:
    """What the HTTP exchange and the discovery source said about a page."""

    status: int | None = None
    """HTTP status of the final response."""
    etag: str | None = None
    """The ``ETag`` header, sent back as ``If-None-Match`` on the next crawl."""
    last_modified: str | None = None
    """The ``Last-Modified`` header as sent, sent back as ``If-Modified-Since``."""
    source_date: str | None = None
    """The date the sitemap (lastmod, news:publication_date) or feed gave, ISO 8601 UTC."""
    redirected_from: str | None = None
    """The URL first requested, when the page was reached through a redirect."""


@dataclass
class Article:
    """One archived page: a news article or a video page."""

    url: str
    """The URL that was fetched (after redirects), absolute."""
    canonical_url: str | None = None
    """Canonical URL: rel=canonical / og:url / JSON-LD url, tracking parameters removed (w3lib)."""
    site: str | None = None
    """Site key: the profile name ("gzero") or the host without "www." ("apnews.com")."""
    kind: ArticleKind = "article"
    """"article", or "video" for a page whose main content is a video (:data:`ArticleKind`)."""
    title: str | None = None
    """Headline, without the " | Site name" suffix."""
    description: str | None = None
    """Standfirst or meta description."""
    authors: list[str] = field(default_factory=list)
    """People's names ("Jane Doe"), in byline order; an organisation byline stays as the organisation."""
    published: str | None = None
    """Publication time, ISO 8601 in UTC (``2024-02-24T11:42:23+00:00``); a bare date if no time is known."""
    modified: str | None = None
    """Last modification time, same format as ``published``."""
    published_raw: str | None = None
    """The publication date exactly as the page gave it."""
    modified_raw: str | None = None
    """The modification date exactly as the page gave it."""
    section: str | None = None
    """Section or category name ("World", "Politics")."""
    tags: list[str] = field(default_factory=list)
    """Keywords and topics, de-duplicated, in page order."""
    language: str | None = None
    """BCP 47 language code ("en", "pt-BR"), declared by the page or detected."""
    body_text: str | None = None
    """Article text: paragraphs separated by a blank line; no captions, ads or related links."""
    images: list[Image] = field(default_factory=list)
    """The article's own pictures, lead first, in page order."""
    videos: list[Video] = field(default_factory=list)
    """Videos embedded in the article, or the page's own video."""
    fetch: Fetch | None = None
    """How the page was fetched (set by the spider, not by extraction; not part of the content)."""
    capture_id: str | None = None
    """The WARC capture the page was extracted from (``captures.id``: ``urn:uuid:…``), set by
    the crawl's capture middleware; not part of the content."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CrawlFailure:
    """Something that could not be archived; stored as a ``failures`` row."""

    url: str
    """The URL concerned."""
    stage: FailureStage
    """Where it failed: one of :data:`FailureStage` ("http", "download", "extract", "image" …)."""
    reason: str
    """Human-readable reason ("HTTP 404", "not HTML: application/pdf", "no title and no body")."""
    http_status: int | None = None
    """HTTP status of the response, if there was one."""


@dataclass
class PageStatus:
    """News about a page already archived that brings no new content."""

    url: str
    """The URL requested."""
    status: str
    """"not_modified" (HTTP 304: the archived version is current) or "removed" (404, 410, or a
    redirect to another page)."""
    reason: str | None = None
    """Why, for "removed": "HTTP 404", "redirected to https://…"."""
    http_status: int | None = None
    """HTTP status of the response."""
    article_id: str | None = None
    """``articles.id`` of the archived page, when the crawl knew it (incremental requests)."""


# -- video transcripts (issue 14, part 3) ------------------------------------------------

TranscriptKind = Literal["manual", "auto"]
"""How a caption track was made: "auto" for YouTube's speech recognition (``kind: asr``),
"manual" for captions uploaded by the channel."""


@dataclass
class TranscriptSegment:
    """One timed line of a transcript."""

    start_s: float
    """When the line starts, in seconds from the start of the video."""
    duration_s: float
    """How long the line stays on screen, in seconds (lines may overlap)."""
    text: str
    """The line's text: HTML-unescaped, markup removed, whitespace collapsed; never empty."""


@dataclass
class Transcript:
    """The caption track of one video in one language and kind, as fetched by the crawl."""

    provider: str
    """Lower-case provider name of the video ("youtube")."""
    video_id: str
    """The provider's id of the video (YouTube's 11-character id)."""
    video_url: str
    """The video's canonical watch URL (https://www.youtube.com/watch?v=ID)."""
    language: str
    """The track's language code as the provider gives it ("en", "pt-BR")."""
    kind: TranscriptKind
    """"auto" (speech recognition) or "manual" (:data:`TranscriptKind`)."""
    url: str
    """The timed-text URL fetched."""
    name: str | None = None
    """The track's label ("English (auto-generated)"), if given."""
    segments: list[TranscriptSegment] = field(default_factory=list)
    """The lines in order; empty lines are not kept."""
    capture_id: str | None = None
    """The WARC capture of the timed-text response (``captures.id``), set by the crawl."""


# -- placements (front and section pages) -------------------------------------------------------


@dataclass
class Placement:
    """One article link as a front or section page shows it (``placements``)."""

    article_url: str
    """The linked article's canonical URL (:func:`newsarchive.processors.canonical_url`): the key
    that joins it to ``articles.canonical_url``."""
    url: str
    """The link's absolute URL as the page gives it (tracking parameters and all)."""
    rank: int
    """1-based order of the link's first appearance on the page (a story linked twice, by its
    picture and its headline, has one placement, at its first link)."""
    slot: str | None = None
    """The block the markup puts the link in, when it says so: "lead", "top stories", "most read"
    (class or id words), or the nearest enclosing block's ``aria-label`` or heading text
    ("Opinion"); None when the markup names no block. At most 80 characters."""
    headline: str | None = None
    """The link's text on the page (whitespace collapsed, at most 300 characters), or the
    ``alt`` of its picture; None for a link without text."""


@dataclass
class FrontPage:
    """A front (home) or section page as one crawl saw it: its article links in page order.
    Stored as a ``placement_pages`` row and its ``placements`` runs."""

    page: str
    """The page's canonical URL."""
    is_home: bool
    """True for a site's home page (the root path "/" of its host)."""
    placements: list[Placement] = field(default_factory=list)
    """The article links, by rank."""
    capture_id: str | None = None
    """The WARC capture of the page (``captures.id``), set by the spider; None without one."""
