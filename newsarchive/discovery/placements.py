"""Placements: which articles a front or section page shows, in what order and in which block.

A pure function over a page's HTML (no Scrapy, no network), or over the page already parsed
(a crawl's response: ``response.selector.root``)::

    extract_placements(url, html, is_article=profile.looks_like_article) -> list[Placement]
    placements_in(root, url, is_article=profile.looks_like_article) -> list[Placement]

Rank is the order of each article's first link on the page. The slot is what the markup says about
the block a link sits in, read from the link outwards (the nearest block wins), with generic rules
only (no publisher's class names):

1. words of the ``class`` and ``id`` attributes: "lead" (lead, hero, splash, main story),
   "top stories" (top stories, top news, top headlines, featured), "most read" (most read,
   most popular, most viewed, popular, trending), "breaking";
2. the ``aria-label`` (or the text ``aria-labelledby`` points to) of a block element (section,
   aside, nav, div, ul, ol, or an element with a landmark role);
3. the block's own heading (h2-h6, a child of the block or of its ``header``): the last one before
   the link, when the block holds more than one article. A heading that links to an article of
   the page is a teaser's headline, and a block of one article is a card: neither names a block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector

from newsarchive.items import Placement
from newsarchive.processors import canonical_url

logger = logging.getLogger(__name__)

#: Longest slot name kept (a heading is a label, not a paragraph).
MAX_SLOT_CHARS = 80
#: Longest headline kept.
MAX_HEADLINE_CHARS = 300
#: Class/id word sequences that name a slot, checked in this order.
SLOT_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("most", "read"), "most read"),
    (("most", "popular"), "most read"),
    (("most", "viewed"), "most read"),
    (("mostread",), "most read"),
    (("popular",), "most read"),
    (("trending",), "most read"),
    (("breaking",), "breaking"),
    (("lead",), "lead"),
    (("hero",), "lead"),
    (("splash",), "lead"),
    (("main", "story"), "lead"),
    (("top", "stories"), "top stories"),
    (("top", "story"), "top stories"),
    (("top", "news"), "top stories"),
    (("top", "headlines"), "top stories"),
    (("topstories",), "top stories"),
    (("featured",), "top stories"),
)
#: Elements whose ``aria-label`` names a block of links.
_LABELLED_TAGS = frozenset({"section", "aside", "nav", "div", "ul", "ol", "main", "footer"})
_LANDMARK_ROLES = frozenset({"region", "complementary", "navigation", "list", "feed", "main"})
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_HEADING_XPATH = "|".join([*(f"./{h}" for h in _HEADINGS), *(f"./header//{h}" for h in _HEADINGS)])
#: Where the ancestor walk stops.
_ROOT_TAGS = frozenset({"body", "html"})
_NOT_PAGES = ("javascript:", "mailto:", "tel:", "data:", "#")
_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPACE = re.compile(r"\s+")


@dataclass
class _Found:
    """An article's links on the page, while reading it."""

    url: str
    first: etree._Element
    links: list[etree._Element] = field(default_factory=list)


def extract_placements(
    url: str, html: str, *, is_article: Callable[[str], bool]
) -> list[Placement]:
    """The article links of the page at ``url``, by rank, each with its slot and headline.

    ``is_article(absolute_url)`` says which links are articles (a profile's
    ``looks_like_article``). A link to the page itself is not a placement.
    """
    if not html or not html.strip():
        return []
    return placements_in(Selector(text=html, base_url=url).root, url, is_article=is_article)


def placements_in(root: Any, url: str, *, is_article: Callable[[str], bool]) -> list[Placement]:
    """:func:`extract_placements` of a page already parsed into ``root`` (an lxml HTML
    element: a Scrapy response's ``selector.root``, parsed once for its links and its
    placements)."""
    if not isinstance(root, etree._Element):
        return []
    found = _article_links(root, _base_url(root, url), is_article, page=canonical_url(url))
    order = {element: n for n, element in enumerate(root.iter())}
    teasers = {link: key for key, article in found.items() for link in article.links}
    return [
        Placement(
            article_url=key,
            url=article.url,
            rank=rank,
            slot=_slot(article.first, teasers, order),
            headline=_headline(article.links),
        )
        for rank, (key, article) in enumerate(found.items(), start=1)
    ]


def is_home_page(url: str) -> bool:
    """Whether ``url`` is a site's home page: the root of its host (``/``, ``/index.html``)."""
    path = urlsplit(url).path
    return path in ("", "/") or bool(re.fullmatch(r"/index\.(?:html?|php|aspx?)", path))


def _base_url(root: etree._Element, url: str) -> str:
    """The URL relative links resolve against: the page's, or its ``<base href>``."""
    base = root.find(".//base[@href]")
    return urljoin(url, base.get("href", "").strip()) if base is not None else url


def _article_links(
    root: etree._Element, base: str, is_article: Callable[[str], bool], *, page: str | None
) -> dict[str, _Found]:
    """The page's article links by canonical URL, in order of first appearance."""
    found: dict[str, _Found] = {}
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or href.lower().startswith(_NOT_PAGES):
            continue
        absolute = urljoin(base, href)
        key = canonical_url(absolute)
        if not key or key == page or not is_article(absolute):
            continue
        article = found.setdefault(key, _Found(url=absolute, first=link))
        article.links.append(link)
    return found


def _text(element: etree._Element) -> str:
    return _SPACE.sub(
        " ", element.text_content() if hasattr(element, "text_content") else ""
    ).strip()


def _headline(links: Iterable[etree._Element]) -> str | None:
    """The first link's text that says something, or its picture's alt text."""
    alts: list[str] = []
    for link in links:
        text = _text(link)
        if text:
            return text[:MAX_HEADLINE_CHARS]
        alts += [_SPACE.sub(" ", img.get("alt") or "").strip() for img in link.iter("img")]
    alt = next((a for a in alts if a), None)
    return alt[:MAX_HEADLINE_CHARS] if alt else None


def _slot(
    link: etree._Element,
    teasers: dict[etree._Element, str],
    order: dict[etree._Element, int],
) -> str | None:
    """The nearest block the markup names around ``link`` (see the module's rules)."""
    word = _class_slot(link)
    if word:
        return word
    for element in link.iterancestors():
        if not isinstance(element.tag, str) or element.tag in _ROOT_TAGS:
            break
        name = (
            _class_slot(element)
            or _aria_label(element)
            or _block_heading(element, link, teasers, order)
        )
        if name:
            return name[:MAX_SLOT_CHARS]
    return None


def _words(element: etree._Element) -> list[str]:
    """The lower-case words of an element's class and id ("c-heroStory" -> c, hero, story)."""
    raw = f"{element.get('class') or ''} {element.get('id') or ''}"
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", raw).lower()) if w]


def _class_slot(element: etree._Element) -> str | None:
    words = _words(element)
    if not words:
        return None
    for sequence, slot in SLOT_WORDS:
        size = len(sequence)
        if any(tuple(words[i : i + size]) == sequence for i in range(len(words) - size + 1)):
            return slot
    return None


def _aria_label(element: etree._Element) -> str | None:
    """A block's accessible name: ``aria-label``, or the text ``aria-labelledby`` names."""
    role = (element.get("role") or "").strip().lower()
    if element.tag not in _LABELLED_TAGS and role not in _LANDMARK_ROLES:
        return None
    label = _SPACE.sub(" ", element.get("aria-label") or "").strip()
    if label:
        return label
    ids = (element.get("aria-labelledby") or "").split()
    if not ids:
        return None
    names = element.getroottree().getroot().xpath("//*[@id=$id]", id=ids[0])
    return (_text(names[0]) or None) if names else None


def _block_heading(
    block: etree._Element,
    link: etree._Element,
    teasers: dict[etree._Element, str],
    order: dict[etree._Element, int],
) -> str | None:
    """The last heading of ``block`` before ``link`` that is not a teaser's headline, when the
    block holds another article too (a card's own title is not a block's name)."""
    before = order.get(link, 0)
    name = None
    for heading in block.xpath(_HEADING_XPATH):
        if order.get(heading, before) >= before:
            break
        if any(a in teasers for a in heading.iter("a")):
            continue
        name = _text(heading) or name
    if name is None or not _holds_another(block, teasers[link], teasers):
        return None
    return name


def _holds_another(block: etree._Element, key: str, teasers: dict[etree._Element, str]) -> bool:
    """Whether ``block`` links an article other than ``key``."""
    return any(teasers.get(a, key) != key for a in block.iter("a"))
