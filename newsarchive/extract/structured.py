"""Structured data: JSON-LD (incl. @graph and lists), OpenGraph / meta tags, microdata."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from lxml import html as lxml_html

from newsarchive.processors import same_page

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "blogposting",
    "liveblogposting",
    "socialmediaposting",
    "techarticle",
    "scholarlyarticle",
    "report",
    "medicalscholarlyarticle",
    "satiricalarticle",
    "advertisercontentarticle",
    "review",
    "askpublicnewsarticle",
    "posting",
}
VIDEO_TYPES = {"videoobject", "videogallery"}


def read_meta(tree: lxml_html.HtmlElement) -> dict[str, list[str]]:
    """<meta name|property|itemprop|http-equiv=... content=...> as lower-case key → values."""
    meta: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        content = el.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = el.get(attr)
            if key:
                meta.setdefault(key.strip().lower(), []).append(content)
    return meta


_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _loads(text: str) -> Any:
    text = text.strip()
    if text.startswith("<!--"):
        text = text[4:]
    if text.endswith("-->"):
        text = text[:-3]
    text = text.strip().rstrip(";")
    if not text:
        return None
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)
    except ValueError:
        pass
    try:  # several objects written one after another
        out, pos, dec = [], 0, json.JSONDecoder(strict=False)
        while pos < len(text):
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                break
            obj, pos = dec.raw_decode(text, pos)
            out.append(obj)
        return out
    except ValueError:
        return None


def _flatten(obj: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(obj, list):
        for item in obj:
            yield from _flatten(item, depth + 1)
    elif isinstance(obj, dict):
        graph = obj.get("@graph")
        if graph is not None:
            yield from _flatten(graph, depth + 1)
            rest = {k: v for k, v in obj.items() if k not in ("@graph", "@context")}
            if "@type" in rest:
                yield rest
        else:
            yield obj
            main = obj.get("mainEntity")
            if isinstance(main, (dict, list)):
                yield from _flatten(main, depth + 1)


def read_jsonld(tree: lxml_html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD node of the page, @graph members and list items flattened."""
    nodes: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        data = _loads(script.text or "")
        if data is not None:
            nodes.extend(_flatten(data))
    return nodes


def types_of(node: dict[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {str(v).rsplit("/", 1)[-1].lower() for v in values if v}


def pick_main(nodes: list[dict[str, Any]], url: str | None = None) -> dict[str, Any]:
    """The node that describes the page's article: an Article type, else a VideoObject, else a WebPage."""

    def weight(node: dict[str, Any]) -> int:
        w = sum(
            1
            for k in ("headline", "articleBody", "author", "datePublished", "image")
            if node.get(k)
        )
        if url and isinstance(node.get("url"), str) and same_page(node["url"], url):
            w += 2
        return w

    for wanted in (ARTICLE_TYPES, VIDEO_TYPES):
        found = [n for n in nodes if types_of(n) & wanted]
        if found:
            return max(found, key=weight)
    pages = [
        n
        for n in nodes
        if types_of(n) & {"webpage", "itempage", "collectionpage"} and n.get("headline")
    ]
    return pages[0] if pages else {}


def node_by_id(nodes: list[dict[str, Any]], ref: Any) -> Any:
    """Resolve {"@id": ...} references inside a @graph."""
    if isinstance(ref, dict) and set(ref) <= {"@id", "@type"} and "@id" in ref:
        for node in nodes:
            if node.get("@id") == ref["@id"] and len(node) > 2:
                return node
    return ref


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text_of(value: Any) -> str | None:
    """A plain string from a JSON-LD value (string, {"name"}, {"@value"}, list)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        for key in ("name", "@value", "text", "url"):
            if isinstance(value.get(key), str):
                return value[key]
        return None
    if isinstance(value, list):
        for item in value:
            text = text_of(item)
            if text:
                return text
    return None


_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);", re.I)


def plain_text(value: Any) -> str | None:
    """:func:`text_of` with HTML character references decoded: some sites escape their JSON-LD
    strings twice ("Kohberger&#8217;s", "zerst&ouml;ren"), which no reader shows."""
    text = text_of(value)
    if text and _ENTITY.search(text):
        text = html.unescape(text)
    return text


def microdata(tree: lxml_html.HtmlElement, prop: str) -> str | None:
    """First itemprop value: content / datetime / href / src attribute, else the text."""
    for el in tree.xpath(f'//*[@itemprop="{prop}"]'):
        for attr in ("content", "datetime", "href", "src"):
            value = el.get(attr)
            if value and value.strip():
                return value.strip()
        text = el.text_content().strip()
        if text:
            return text
    return None
