"""YouTube caption tracks and timed text, parsed: pure code, no Scrapy, no network.

The flow is youtube-transcript-api's (jdepoix/youtube-transcript-api, read for reference): the
watch page (``/watch?v=ID``) names the innertube API key (``"INNERTUBE_API_KEY": "…"``); the
innertube ``player`` API (``POST /youtubei/v1/player?key=KEY``, a JSON body naming the video and
a client) answers with ``captions.playerCaptionsTracklistRenderer.captionTracks[]``, each with its
``baseUrl``, ``languageCode``, ``kind`` ("asr": automatic speech recognition) and ``name``. The
watch page carries the same structure in its ``ytInitialPlayerResponse`` (used when there is no
key or the player request fails). A track's ``baseUrl`` without ``&fmt=srv3`` answers the plain
timed-text document ``<transcript><text start=".." dur="..">escaped text</text>…</transcript>``.

* :func:`innertube_api_key`, :func:`initial_player_response`: what the watch page says;
* :func:`player_request_body`: the JSON body of the ``player`` request;
* :func:`caption_tracks`: a player answer (JSON, as a dict) → :class:`CaptionTrack` list;
* :func:`parse_timed_text`: a timed-text document → :class:`~newsarchive.items.TranscriptSegment` list.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from newsarchive.items import TranscriptKind, TranscriptSegment

logger = logging.getLogger(__name__)

#: The innertube client youtube-transcript-api names today (its ``_settings.INNERTUBE_CONTEXT``).
INNERTUBE_CLIENT = {"clientName": "ANDROID", "clientVersion": "20.10.38"}
#: The track parameter that asks for the srv3 format instead of the plain timed-text XML.
SRV3_PARAMETER = "&fmt=srv3"
#: ``captionTracks[].kind`` of an automatic (speech-recognised) track.
ASR_KIND = "asr"
_API_KEY = re.compile(r'"INNERTUBE_API_KEY"\s*:\s*"([A-Za-z0-9_-]+)"')
_PLAYER_RESPONSE = re.compile(r"\bytInitialPlayerResponse\s*=\s*")
#: Markup left inside a segment's text once unescaped (``&lt;i>not&lt;/i>`` → ``<i>not</i>``).
_TAG = re.compile(r"<[^>]*>")


class TranscriptError(ValueError):
    """A player answer or timed-text document that cannot be read."""


@dataclass(frozen=True)
class CaptionTrack:
    """One caption track a player answer lists."""

    url: str
    """The timed-text URL to fetch: the track's ``baseUrl`` without ``&fmt=srv3``."""
    language: str
    """``languageCode`` ("en", "pt-BR")."""
    kind: TranscriptKind
    """"auto" for a speech-recognised track (``kind: asr``), else "manual"."""
    name: str | None
    """The track's label ("English (auto-generated)"), if given."""


def innertube_api_key(page: str) -> str | None:
    """The watch page's ``INNERTUBE_API_KEY``, or None."""
    match = _API_KEY.search(page)
    return match.group(1) if match else None


def initial_player_response(page: str) -> dict[str, Any] | None:
    """The watch page's ``ytInitialPlayerResponse`` object, or None when it has none (or it is
    not JSON). Control characters inside its strings are taken as they are."""
    for match in _PLAYER_RESPONSE.finditer(page):
        try:
            value, _end = json.JSONDecoder(strict=False).raw_decode(page, match.end())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def player_request_body(video_id: str) -> bytes:
    """The JSON body of the innertube ``player`` request for ``video_id``."""
    body = {"context": {"client": INNERTUBE_CLIENT}, "videoId": video_id}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")


def parse_player_answer(body: bytes | str) -> dict[str, Any]:
    """The player API's JSON answer as a dict (:class:`TranscriptError` if it is not one)."""
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise TranscriptError(f"the player answer is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise TranscriptError("the player answer is not a JSON object")
    return value


def caption_tracks(player: dict[str, Any]) -> list[CaptionTrack]:
    """The caption tracks a player answer lists, in its order; none when the video has no
    captions (or is not playable: ``playabilityStatus`` says why, logged)."""
    status = (player.get("playabilityStatus") or {}).get("status")
    if status not in (None, "OK"):
        logger.info(
            "video not playable (%s): %s",
            status,
            (player.get("playabilityStatus") or {}).get("reason"),
        )
    renderer = (player.get("captions") or {}).get("playerCaptionsTracklistRenderer") or {}
    tracks = []
    for raw in renderer.get("captionTracks") or []:
        track = _track(raw)
        if track is not None:
            tracks.append(track)
    return tracks


def _track(raw: Any) -> CaptionTrack | None:
    if not isinstance(raw, dict) or not raw.get("baseUrl") or not raw.get("languageCode"):
        return None
    return CaptionTrack(
        url=str(raw["baseUrl"]).replace(SRV3_PARAMETER, ""),
        language=str(raw["languageCode"]),
        kind="auto" if raw.get("kind") == ASR_KIND else "manual",
        name=_label(raw.get("name")),
    )


def _label(name: Any) -> str | None:
    """A track name: ``{"simpleText": …}`` or ``{"runs": [{"text": …}, …]}``."""
    if not isinstance(name, dict):
        return None
    if isinstance(name.get("simpleText"), str):
        return name["simpleText"]
    runs = name.get("runs") or []
    text = "".join(run.get("text", "") for run in runs if isinstance(run, dict))
    return text or None


def parse_timed_text(document: bytes) -> list[TranscriptSegment]:
    """The segments of a timed-text document in order: text HTML-unescaped, markup left inside
    it removed, whitespace collapsed; empty segments skipped. :class:`TranscriptError` for a
    document that is not ``<transcript>`` XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise TranscriptError(f"the timed text is not XML: {exc}") from exc
    if root is None or root.tag != "transcript":
        raise TranscriptError(f"not a timed-text document (root <{getattr(root, 'tag', None)}>)")
    segments = []
    for element in root.iterchildren("text"):
        segment = _segment(element)
        if segment is not None:
            segments.append(segment)
    return segments


def _segment(element: Any) -> TranscriptSegment | None:
    text = " ".join(_TAG.sub("", html.unescape(element.text or "")).split())
    if not text:
        return None
    try:
        start = float(element.get("start", ""))
        duration = float(element.get("dur") or 0.0)
    except ValueError:
        return None
    return TranscriptSegment(start_s=start, duration_s=duration, text=text)


def joined_text(segments: list[TranscriptSegment]) -> str:
    """The transcript's text: its segments joined by spaces."""
    return " ".join(segment.text for segment in segments)
