from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Link:
    """A URL found by discovery, with what the source said about it."""

    url: str
    """Absolute URL."""
    date: str | None = None
    """Publication or last-modification time, ISO 8601 UTC, if the source gave one (orders the
    requests, newest first, and bounds ``since``)."""
    modified: str | None = None
    """Last-modification time only (sitemap ``<lastmod>``, Atom ``<updated>``), ISO 8601 UTC: the
    one date that may skip an archived page as unchanged. A publication date (``news:publication_date``,
    RSS ``pubDate``) never goes here: it does not move when a story is corrected."""
    title: str | None = None
    """Title the source gave (news:title, feed item title), if any."""
    kind: Literal["video"] | None = None
    """"video" when the source says the link is a video page (video sitemap), else None."""
