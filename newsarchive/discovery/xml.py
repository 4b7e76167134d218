"""XML as feeds and sitemaps come: namespaces ignored, broken documents recovered, no entities."""

from __future__ import annotations

import logging

import lxml.etree

logger = logging.getLogger(__name__)

_PARSER = lxml.etree.XMLParser(
    recover=True, resolve_entities=False, no_network=True, remove_comments=True
)


def local_name(tag: object) -> str:
    """``{namespace}Name`` → ``name``; "" for comments and processing instructions."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def parse_xml(body: bytes, url: str) -> lxml.etree._Element | None:
    """The document's root element, or None (logged) when nothing can be read."""
    try:
        return lxml.etree.fromstring(body, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        logger.warning("unparsable XML %s: %s", url, exc)
        return None
