"""RSS 2.0, RSS 1.0 (RDF) and Atom feeds."""

from __future__ import annotations

from newsarchive.discovery.links import Link
from newsarchive.discovery.xml import local_name, parse_xml
from newsarchive.processors import absolute_url, clean_line, to_iso_utc

_DATE_TAGS = ("pubdate", "published", "updated", "date", "issued", "modified")
#: Tags that say when an entry last changed (Atom ``updated``, ``dcterms:modified``); RSS ``pubDate``
#: and ``dc:date`` are publication dates.
_MODIFIED_TAGS = ("updated", "modified")


def parse_feed(body: bytes, base_url: str) -> list[Link]:
    """Links of a feed's items, in feed order, with their dates and titles."""
    root = parse_xml(body, base_url)
    if root is None:
        return []
    links = []
    for entry in root.iter():
        if local_name(entry.tag) not in ("item", "entry"):
            continue
        url = title = date = modified = None
        for child in entry:
            name = local_name(child.tag)
            if name == "link":
                href = child.get("href")
                if href and child.get("rel", "alternate") == "alternate":
                    url = url or href
                elif not href and child.text:
                    url = url or child.text.strip()
            elif (
                name == "guid"
                and child.get("isPermaLink", "true") == "true"
                and child.text
                and not url
            ):
                if child.text.strip().startswith("http"):
                    url = child.text.strip()
            elif name == "title":
                title = child.text
            if name in _DATE_TAGS and child.text and not date:
                date = child.text.strip()
            if name in _MODIFIED_TAGS and child.text and not modified:
                modified = child.text.strip()
        url = absolute_url(url, base_url)
        if url:
            links.append(
                Link(
                    url=url,
                    date=to_iso_utc(date),
                    modified=to_iso_utc(modified),
                    title=clean_line(title),
                )
            )
    return links
