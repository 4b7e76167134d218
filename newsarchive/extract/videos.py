"""Videos: YouTube / Vimeo embeds (also lazy ones), VideoObject JSON-LD, og:video, and
YouTube watch pages (microdata + ytInitialPlayerResponse)."""

from __future__ import annotations

import json
import re
from typing import Any

from newsarchive.extract.container import in_junk
from newsarchive.extract.document import Page
from newsarchive.extract.structured import VIDEO_TYPES, as_list, text_of, types_of
from newsarchive.items import Video
from newsarchive.processors import absolute_url

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


def _player_response(text: str) -> dict[str, Any] | None:
    m = re.search(r"ytInitialPlayerResponse\s*=\s*\{", text)
    if not m:
        return None
    try:
        data, _ = json.JSONDecoder(strict=False).raw_decode(text, m.end() - 1)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def youtube_watch_video(page: Page) -> Video | None:
    """The video of a YouTube watch page, or None for any other page."""
    if (
        "youtube.com" not in page.host
        and (page.meta_first("og:site_name") or "").lower() != "youtube"
    ):
        return None
    video_id = page.meta_first("videoid", "identifier")
    player = _player_response(page.text) or {}
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
    base = page.url
    videos: list[Video] = []
    watch = youtube_watch_video(page)
    if watch:
        return [watch]
    # structured data first: it carries titles and durations
    for node in page.jsonld:
        if types_of(node) & VIDEO_TYPES:
            video = _from_jsonld(node, base)
            if video:
                videos.append(video)
    if page.main:
        for node in as_list(page.main.get("video")):
            if isinstance(node, dict):
                video = _from_jsonld(node, base)
                if video:
                    videos.append(video)
    root = page.article_root
    scope = root if root is not None else page.tree
    for el in scope.iter(
        "iframe", "embed", "object", "div", "p", "figure", "lite-youtube", "video", "source", "a"
    ):
        if el.tag == "a" and "youtube" not in (el.get("class") or "").lower():
            continue
        if el.tag in ("video", "source"):
            src = el.get("src") or el.get("data-src")
            if src and re.search(r"\.(mp4|webm|mov|m3u8)(\?|$)", src) and not in_junk(el, root):
                url = absolute_url(src, base)
                if url:
                    videos.append(
                        Video(
                            provider="html5",
                            video_id=url,
                            url=url,
                            thumbnail_url=absolute_url(el.get("poster"), base),
                        )
                    )
            continue
        for attr in _EMBED_ATTRS:
            video = video_from_url(el.get(attr))
            if video:
                break
        else:
            vid = (
                el.get("videoid") or el.get("data-youtube-id") or el.get("data-video-id")
                if el.tag == "lite-youtube" or el.get("data-youtube-id")
                else None
            )
            video = (
                Video(
                    provider="youtube", video_id=vid, url=f"https://www.youtube.com/watch?v={vid}"
                )
                if vid and len(vid) == 11
                else None
            )
        if video and not in_junk(el, root):
            video.title = video.title or el.get("title")
            videos.append(video)
    for key in ("og:video:secure_url", "og:video:url", "og:video", "twitter:player"):
        for value in page.meta_all(key):
            video = video_from_url(value)
            if video:
                videos.append(video)
    # merge duplicates, keeping the richest record
    merged: dict[tuple[str, str], Video] = {}
    for video in videos:
        key = (video.provider, video.video_id)
        if key not in merged:
            merged[key] = video
        else:
            old = merged[key]
            for field in (
                "title",
                "description",
                "duration_s",
                "published",
                "thumbnail_url",
                "channel",
            ):
                if getattr(old, field) is None and getattr(video, field) is not None:
                    setattr(old, field, getattr(video, field))
    return list(merged.values())
