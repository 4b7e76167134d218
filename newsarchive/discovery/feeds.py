"""RSS 2.0, RSS 1.0 (RDF) and Atom feeds."""
from __future__ import annotations

import logging

import lxml.etree

from newsarchive.discovery.links import Link
from newsarchive.processors import absolute_url, clean_line, to_iso_utc

logger = logging.getLogger(__name__)

_PARSER = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)
_DATE_TAGS = ("pubdate", "published", "updated", "date", "issued", "modified")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def parse_feed(body: bytes, base_url: str) -> list[Link]:
    """Links of a feed's items, in feed order, with their dates and titles."""
    try:
        root = lxml.etree.fromstring(body, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        logger.warning("unparsable feed %s: %s", base_url, exc)
        return []
    if root is None:
        return []
    links = []
    for entry in root.iter():
        if _local(entry.tag) not in ("item", "entry"):
            continue
        url = title = date = None
        for child in entry:
            name = _local(child.tag)
            if name == "link":
                href = child.get("href")
                if href and child.get("rel", "alternate") == "alternate":
                    url = url or href
                elif not href and child.text:
                    url = url or child.text.strip()
            elif name == "guid" and child.get("isPermaLink", "true") == "true" and child.text and not url:
                if child.text.strip().startswith("http"):
                    url = child.text.strip()
            elif name == "title":
                title = child.text
            elif name in _DATE_TAGS and child.text and not date:
                date = child.text.strip()
        url = absolute_url(url, base_url)
        if url:
            links.append(Link(url=url, date=to_iso_utc(date), title=clean_line(title)))
    return links
