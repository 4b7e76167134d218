"""Videos: YouTube / Vimeo embeds (also lazy ones), VideoObject JSON-LD, og:video, and
YouTube watch pages (microdata + ytInitialPlayerResponse)."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from lxml import html as lxml_html

from newsarchive.extract.container import in_junk
from newsarchive.extract.document import Page
from newsarchive.extract.structured import VIDEO_TYPES, as_list, text_of, types_of
from newsarchive.extract.transcripts import initial_player_response
from newsarchive.items import Video
from newsarchive.processors import absolute_url, registrable_domain

#: Characters of a YouTube video id ("dQw4w9WgXcQ").
YOUTUBE_ID_CHARS = 11
_YOUTUBE = re.compile(
    r"(?:youtube(?:-nocookie)?\.com/(?:embed/|v/|shorts/|live/|watch\?(?:[^\"'#]*&)?v=|e/)|youtu\.be/)"
    r"([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
)
_VIMEO = re.compile(r"(?:player\.vimeo\.com/video/|vimeo\.com/(?:video/)?)(\d{5,})")
_EMBED_ATTRS = (
    "src",
    "data-src",
    "data-runner-src",
    "data-lazy-src",
    "data-url",
    "data-embed-src",
    "data-video-src",
    "data-href",
    "data-iframe-src",
)
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$", re.I)


def parse_duration(value: Any) -> int | None:
    """ISO 8601 ``PT1M30S`` or a seconds count → whole seconds."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    m = _ISO_DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return int(d * 86400 + h * 3600 + mi * 60 + s)


def video_from_url(url: str | None) -> Video | None:
    if not url:
        return None
    m = _YOUTUBE.search(url)
    if m:
        vid = m.group(1)
        return Video(provider="youtube", video_id=vid, url=f"https://www.youtube.com/watch?v={vid}")
    m = _VIMEO.search(url)
    if m:
        return Video(provider="vimeo", video_id=m.group(1), url=f"https://vimeo.com/{m.group(1)}")
    return None


def _from_jsonld(node: dict[str, Any], base: str) -> Video | None:
    video = None
    for key in ("embedUrl", "contentUrl", "url"):
        video = video_from_url(text_of(node.get(key)))
        if video:
            break
    if video is None:
        content = absolute_url(text_of(node.get("contentUrl")), base)
        if not content or not re.search(r"\.(mp4|webm|m3u8|mov)(\?|$)", content):
            return None
        video = Video(provider="html5", video_id=content, url=content)
    thumb = node.get("thumbnailUrl") or node.get("thumbnail")
    video.title = text_of(node.get("name")) or text_of(node.get("headline"))
    video.description = text_of(node.get("description"))
    video.duration_s = parse_duration(text_of(node.get("duration")))
    video.published = text_of(node.get("uploadDate")) or text_of(node.get("datePublished"))
    video.thumbnail_url = text_of(thumb[0] if isinstance(thumb, list) and thumb else thumb)
    video.channel = (
        text_of(node.get("author"))
        or text_of(node.get("creator"))
        or text_of(node.get("publisher"))
    )
    return video


def youtube_watch_video(page: Page) -> Video | None:
    """The video of a YouTube watch page, or None for any other page."""
    if (
        registrable_domain(page.url) != "youtube.com"
        and (page.meta_first("og:site_name") or "").lower() != "youtube"
    ):
        return None
    video_id = page.meta_first("videoid", "identifier")
    player = initial_player_response(page.text) or {}
    details = player.get("videoDetails") or {}
    micro = ((player.get("microformat") or {}).get("playerMicroformatRenderer")) or {}
    video_id = details.get("videoId") or video_id
    if not video_id:
        found = video_from_url(page.meta_first("og:url") or page.url)
        video_id = found.video_id if found else None
    if not video_id:
        return None
    thumbs = ((details.get("thumbnail") or {}).get("thumbnails")) or []
    thumb = max(thumbs, key=lambda t: t.get("width") or 0).get("url") if thumbs else None
    title = details.get("title") or page.meta_first("name", "og:title", "title")
    return Video(
        provider="youtube",
        video_id=video_id,
        url=f"https://www.youtube.com/watch?v={video_id}",
        title=title,
        description=details.get("shortDescription")
        or page.meta_first("description", "og:description"),
        duration_s=parse_duration(details.get("lengthSeconds") or page.meta_first("duration")),
        published=micro.get("uploadDate")
        or micro.get("publishDate")
        or page.meta_first("uploaddate", "datepublished"),
        thumbnail_url=thumb or page.meta_first("thumbnailurl", "og:image"),
        channel=details.get("author") or micro.get("ownerChannelName"),
    )


def extract_videos(page: Page) -> list[Video]:
    """The page's videos: a YouTube watch page is its own video; else the structured data's
    videos, the players in the article's markup and the og:video / twitter:player tags, one
    record per video."""
    watch = youtube_watch_video(page)
    if watch:
        return [watch]
    # structured data first: it carries titles and durations
    found = [*_structured_videos(page), *_markup_videos(page), *_meta_videos(page)]
    return _merge(found)


def _structured_videos(page: Page) -> list[Video]:
    """VideoObject nodes of the JSON-LD, then the main node's ``video``."""
    nodes = [node for node in page.jsonld if types_of(node) & VIDEO_TYPES]
    if page.main:
        nodes += [node for node in as_list(page.main.get("video")) if isinstance(node, dict)]
    return [video for video in (_from_jsonld(node, page.url) for node in nodes) if video]


#: Elements that may hold a player: embeds, lazy-loading wrappers, <video> and its <source>s.
_PLAYER_TAGS = (
    "iframe",
    "embed",
    "object",
    "div",
    "p",
    "figure",
    "lite-youtube",
    "video",
    "source",
    "a",
)
_VIDEO_FILE = re.compile(r"\.(mp4|webm|mov|m3u8)(\?|$)")


def _markup_videos(page: Page) -> list[Video]:
    """Players in the article (or the page, when no article is found), outside junk blocks."""
    root = page.article_root
    scope = root if root is not None else page.tree
    videos: list[Video] = []
    for el in scope.iter(*_PLAYER_TAGS):
        if el.tag == "a" and "youtube" not in (el.get("class") or "").lower():
            continue
        if el.tag in ("video", "source"):
            video = _file_video(el, page.url)
            if video is not None and not in_junk(el, root):
                videos.append(video)
            continue
        video = _embedded_video(el)
        if video and not in_junk(el, root):
            video.title = video.title or el.get("title")
            videos.append(video)
    return videos


def _file_video(el: lxml_html.HtmlElement, base: str) -> Video | None:
    """A plain video file a <video> or <source> plays."""
    src = el.get("src") or el.get("data-src")
    if not src or not _VIDEO_FILE.search(src):
        return None
    url = absolute_url(src, base)
    if not url:
        return None
    return Video(
        provider="html5",
        video_id=url,
        url=url,
        thumbnail_url=absolute_url(el.get("poster"), base),
    )


def _embedded_video(el: lxml_html.HtmlElement) -> Video | None:
    """A provider's player: an embed URL in one of :data:`_EMBED_ATTRS`, or a lite-youtube /
    ``data-youtube-id`` element."""
    for attr in _EMBED_ATTRS:
        video = video_from_url(el.get(attr))
        if video:
            return video
    vid = (
        el.get("videoid") or el.get("data-youtube-id") or el.get("data-video-id")
        if el.tag == "lite-youtube" or el.get("data-youtube-id")
        else None
    )
    if vid and len(vid) == YOUTUBE_ID_CHARS:
        return Video(provider="youtube", video_id=vid, url=f"https://www.youtube.com/watch?v={vid}")
    return None


def _meta_videos(page: Page) -> list[Video]:
    """Videos the page's og:video / twitter:player tags name."""
    names = ("og:video:secure_url", "og:video:url", "og:video", "twitter:player")
    found = (video_from_url(value) for name in names for value in page.meta_all(name))
    return [video for video in found if video]


#: Fields of a Video that name it; the others describe it and may come from any copy.
_IDENTITY_FIELDS = {"provider", "video_id", "url"}


def _merge(videos: list[Video]) -> list[Video]:
    """One record per (provider, id), in order of first appearance: the first copy, with what
    it lacks filled in from the later ones."""
    merged: dict[tuple[str, str], Video] = {}
    for video in videos:
        old = merged.setdefault((video.provider, video.video_id), video)
        if old is video:
            continue
        for name in (f.name for f in fields(Video) if f.name not in _IDENTITY_FIELDS):
            if getattr(old, name) is None and getattr(video, name) is not None:
                setattr(old, name, getattr(video, name))
    return list(merged.values())
