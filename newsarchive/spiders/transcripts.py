"""Routing of video transcript requests: the part of the news spider that asks YouTube for the
caption tracks of the videos an article embeds (issue 14, part 3).

Every request is an ordinary Scrapy request (robots.txt, per-domain politeness, the WARC
capture, replay), made in youtube-transcript-api's order (see :mod:`newsarchive.extract.transcripts`):

1. ``GET {base}/watch?v=ID``: the watch page, for its innertube API key (and, as a fallback, the
   caption tracks of its ``ytInitialPlayerResponse``);
2. ``POST {base}/youtubei/v1/player?key=KEY`` with a JSON body naming the video and the client:
   the caption tracks (replay tells POST answers apart by their body, see
   :func:`newsarchive.capture.writer.exchange_key`);
3. ``GET`` each track's timed text: a :class:`~newsarchive.items.Transcript` item.

A video without captions yields nothing; a request that fails, or an answer that cannot be read,
is a ``failures`` row with stage "transcript" (or "replay" when a replay lacks the capture),
never a failure of the article. Settings: ``NEWSARCHIVE_TRANSCRIPTS`` (on/off; unset: the
spider's class attribute ``transcripts``), ``NEWSARCHIVE_YOUTUBE_BASE`` (where YouTube is asked,
https://www.youtube.com by default; tests point it at a local stand-in) and
``NEWSARCHIVE_TRANSCRIPT_LANGUAGES`` (language codes of the tracks to fetch; empty: every track).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from newsarchive.capture.writer import CAPTURE_META
from newsarchive.extension import ArchiveExtension
from newsarchive.extract.transcripts import (
    CaptionTrack,
    TranscriptError,
    caption_tracks,
    initial_player_response,
    innertube_api_key,
    parse_player_answer,
    parse_timed_text,
    player_request_body,
)
from newsarchive.items import Article, CrawlFailure, FailureStage, Transcript, Video
from newsarchive.middlewares.capture import NotCaptured
from newsarchive.middlewares.checks import download_failure
from newsarchive.store.archive import video_key

logger = logging.getLogger(__name__)

#: Where YouTube is asked (``NEWSARCHIVE_YOUTUBE_BASE``).
DEFAULT_YOUTUBE_BASE = "https://www.youtube.com"
#: A YouTube video id: 11 characters of the URL-safe base64 alphabet.
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
#: ``Request.meta`` flag of every transcript request.
TRANSCRIPT_META = "newsarchive_transcript"


class TranscriptRouting:
    """Mixin of :class:`~newsarchive.spiders.news.NewsSpider`: transcript requests and callbacks."""

    #: Whether the crawl fetches the transcripts of the YouTube videos it archives; the
    #: ``NEWSARCHIVE_TRANSCRIPTS`` setting, when set, decides instead.
    transcripts: bool = False
    #: ``NEWSARCHIVE_YOUTUBE_BASE``, without a trailing slash.
    youtube_base: str = DEFAULT_YOUTUBE_BASE
    #: ``NEWSARCHIVE_TRANSCRIPT_LANGUAGES``: track languages fetched (empty: all).
    transcript_languages: tuple[str, ...] = ()
    crawler: Any

    def configure_transcripts(self, settings) -> None:
        """Read the transcript settings once (from ``from_crawler``)."""
        if settings.get("NEWSARCHIVE_TRANSCRIPTS") is not None:
            self.transcripts = settings.getbool("NEWSARCHIVE_TRANSCRIPTS")
        self.youtube_base = (
            settings.get("NEWSARCHIVE_YOUTUBE_BASE") or DEFAULT_YOUTUBE_BASE
        ).rstrip("/")
        self.transcript_languages = tuple(settings.getlist("NEWSARCHIVE_TRANSCRIPT_LANGUAGES"))
        self._transcript_videos: set[str] | None = None

    def _asked_videos(self) -> set[str]:
        """Videos asked for in this run, starting with those the archive has transcripts of."""
        asked = getattr(self, "_transcript_videos", None)
        if asked is None:
            asked = ArchiveExtension.of(self.crawler).archive.transcribed_videos()
            self._transcript_videos = asked
        return asked

    def transcript_requests(self, article: Article) -> Iterable[scrapy.Request]:
        """The watch page request of each YouTube video of ``article`` not yet asked for."""
        if not self.transcripts:
            return
        asked = self._asked_videos()
        for video in article.videos:
            key = video_key(video)
            if video.provider != "youtube" or not _YOUTUBE_ID.fullmatch(video.video_id):
                continue
            if key in asked:
                continue
            asked.add(key)
            yield self._transcript_request(
                f"{self.youtube_base}/watch?v={video.video_id}",
                self.parse_watch_page,
                video=video,
            )

    def _transcript_request(
        self, url: str, callback, *, post: bytes | None = None, **cb_kwargs: Any
    ) -> scrapy.Request:
        """A transcript request (a JSON POST of ``post`` when given) to ``callback(**cb_kwargs)``."""
        extra: dict[str, Any] = {}
        if post is not None:
            extra = {
                "method": "POST",
                "body": post,
                "headers": {"Content-Type": "application/json"},
            }
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.transcript_failed,
            cb_kwargs=cb_kwargs,
            dont_filter=True,  # de-duplicated per video in transcript_requests
            meta={"allow_offsite": True, TRANSCRIPT_META: True},
            **extra,
        )

    def parse_watch_page(self, response: Response, video: Video) -> Iterable[Any]:
        """The watch page: ask the player API with its key, or use its own caption tracks."""
        if not isinstance(response, TextResponse):
            yield _failure(response.url, "the watch page is not text", response.status)
            return
        page = response.text
        fallback = caption_tracks(initial_player_response(page) or {})
        key = innertube_api_key(page)
        if key is None:
            yield from self._track_requests(video, fallback)
            return
        yield self._transcript_request(
            f"{self.youtube_base}/youtubei/v1/player?key={key}",
            self.parse_player,
            video=video,
            post=player_request_body(video.video_id),
            fallback=fallback,
        )

    def parse_player(
        self, response: Response, video: Video, fallback: list[CaptionTrack]
    ) -> Iterable[Any]:
        """The player API's answer: its caption tracks (the watch page's when it lists none)."""
        try:
            tracks = caption_tracks(parse_player_answer(response.body))
        except TranscriptError as exc:
            yield _failure(response.url, str(exc), response.status)
            tracks = []
        yield from self._track_requests(video, tracks or fallback)

    def _track_requests(self, video: Video, tracks: list[CaptionTrack]) -> Iterable[scrapy.Request]:
        if not tracks:
            logger.info("%s:%s has no caption tracks", video.provider, video.video_id)
        for track in tracks:
            if self.transcript_languages and track.language not in self.transcript_languages:
                continue
            yield self._transcript_request(
                track.url, self.parse_timed_text, video=video, track=track
            )

    def parse_timed_text(
        self, response: Response, video: Video, track: CaptionTrack
    ) -> Iterable[Any]:
        """A track's timed text: the :class:`Transcript` item (none for a track without text)."""
        try:
            segments = parse_timed_text(response.body)
        except TranscriptError as exc:
            yield _failure(response.url, str(exc), response.status)
            return
        if not segments:
            logger.info("%s: caption track without text", response.url)
            return
        capture = response.meta.get(CAPTURE_META) or {}
        yield Transcript(
            provider=video.provider,
            video_id=video.video_id,
            video_url=video.url,
            language=track.language,
            kind=track.kind,
            url=response.url,
            name=track.name,
            segments=segments,
            capture_id=capture.get("id"),
        )

    def transcript_failed(self, failure: Failure) -> Iterable[Any]:
        """A transcript request that failed: its ``failures`` row; for a player request, the
        watch page's own caption tracks instead."""
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        exc = failure.value
        if isinstance(exc, NotCaptured):
            yield CrawlFailure(url=request.url, stage="replay", reason="not in the captures")
        elif isinstance(exc, HttpError):
            status = exc.response.status
            yield _failure(request.url, f"HTTP {status}", status)
        elif isinstance(exc, IgnoreRequest):  # robots.txt forbids it, or a check refused it
            yield _failure(request.url, f"not fetched: {failure.getErrorMessage() or 'ignored'}")
        else:
            _stage, reason = download_failure(
                exc or Exception(failure.getErrorMessage()),
                timeout=request.meta.get("download_timeout"),
            )
            yield _failure(request.url, reason)
        if request.callback == self.parse_player:
            kwargs = request.cb_kwargs
            yield from self._track_requests(kwargs["video"], kwargs["fallback"])


def _failure(url: str, reason: str, http_status: int | None = None) -> CrawlFailure:
    stage: FailureStage = "transcript"
    return CrawlFailure(url=url, stage=stage, reason=reason, http_status=http_status)
