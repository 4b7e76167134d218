"""Decode bytes and parse HTML once; every sub-extractor shares the resulting :class:`Page`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree, html as lxml_html
from w3lib.encoding import html_to_unicode

from newsarchive.extract.errors import ExtractionError

#: Pages larger than this are truncated before parsing (characters).
MAX_CHARS = 12_000_000

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

# Same options as trafilatura's own parser, so the tree can be handed to it as is.
_PARSER = lxml_html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True, huge_tree=True
)


def decode(data: str | bytes, encoding: str | None = None) -> str:
    """Bytes to text: BOM, then the caller's encoding, then <meta charset>, then detection."""
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExtractionError(f"expected str or bytes, got {type(data).__name__}")
    data = bytes(data)
    header = f"text/html; charset={encoding}" if encoding else None
    try:
        _, text = html_to_unicode(header, data)
    except LookupError:  # unknown encoding name given by the caller or the page
        _, text = html_to_unicode(None, data)
    return text


def parse(text: str) -> lxml_html.HtmlElement:
    """Parse text into an lxml HTML tree; ExtractionError if nothing is left."""
    text = _XML_DECL.sub("", text[:MAX_CHARS], count=1)
    text = _CONTROL.sub("", text)
    if not text.strip():
        raise ExtractionError("empty document")
    try:
        tree = lxml_html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError) as exc:
        raise ExtractionError(f"unparsable HTML: {exc}") from exc
    if tree is None:
        raise ExtractionError("empty document")
    _unnest_void(tree)
    for el in tree.iter("amp-img"):  # AMP pages: <amp-img> is an <img>
        el.tag = "img"
    return tree


def _unnest_void(tree: lxml_html.HtmlElement) -> None:
    """libxml2 parses HTML 4 and does not know that <source> and <track> are void: it nests
    whatever follows them inside. Move such children back out, innermost first."""
    for el in reversed([e for e in tree.iter("source", "track") if len(e) or e.text]):
        parent = el.getparent()
        if parent is None:
            continue
        index = parent.index(el)
        children = list(el)
        if el.text:
            el.tail = el.text + (el.tail or "")
            el.text = None
        if children:
            last = children[-1]
            last.tail = (last.tail or "") + (el.tail or "")
            el.tail = None
            for offset, child in enumerate(children, 1):
                parent.insert(index + offset, child)


@dataclass
class Page:
    """A parsed page and the structured data found in it, shared by all sub-extractors."""

    url: str
    tree: lxml_html.HtmlElement
    text: str
    site: str | None = None
    meta: dict[str, list[str]] = field(default_factory=dict)
    jsonld: list[dict[str, Any]] = field(default_factory=list)
    main: dict[str, Any] = field(default_factory=dict)
    """The JSON-LD node describing the article (or video) itself."""
    platform: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").removeprefix("www.")

    def meta_first(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name.lower(), ()):
                if value and value.strip():
                    return value.strip()
        return None

    def meta_all(self, *names: str) -> list[str]:
        out: list[str] = []
        for name in names:
            out.extend(v.strip() for v in self.meta.get(name.lower(), ()) if v and v.strip())
        return out
