"""Locate the article on the page: the body container and the article root
(the smallest element holding both the headline and the body)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from lxml import html as lxml_html

from newsarchive.extract.document import Page

_BLOCKS = ("nav", "footer", "aside", "header", "form", "noscript", "script", "style")
#: class/id words of blocks that are not the article (related stories, promos, newsletters ...).
JUNK = re.compile(
    r"(?:^|[\s_\-])(?:related|recommend\w*|more-?from|more-?stories|read-?more|also-?read|"
    r"promo\w*|newsletter|sign-?up|subscribe|outbrain|taboola|sidebar|rail|most-?popular|"
    r"popular|trending|widget-?related|recirc\w*|further-?reading|next-?article|up-?next|"
    r"comments?|share|social|author-?bio|bio|advert\w*|ad-?slot|ads|sponsor\w*|partner\w*|"
    r"footer|breadcrumbs?|nav\w*|menu|card-?list|story-?list|playlist|"
    r"gallery-?thumbs?|you-?may-?like|dont-?miss|around-?the-?web|tags?|teasers?|inline-?teaser\w*|inline-?sign-?up)(?:$|[\s_\-])",
    re.I,
)
_BODY_HINT = re.compile(
    r"article[-_]?body|story[-_]?body|entry[-_]?content|post[-_]?content|articlebody|"
    r"body[-_]?text|article[-_]?content|story[-_]?content|content[-_]?body|rich[-_]?text|"
    r"body-description|article__body|paywall|main[-_]?content",
    re.I,
)


#: A class or id token longer than this (characters), or with :data:`SLUG_HYPHENS` hyphens or
#: more, is a slug made from a title, not the name of a page block.
LABEL_TOKEN_MAX_CHARS = 40
SLUG_HYPHENS = 5
#: An ``itemprop=articleBody`` element with less text than this (characters) is not the body.
ITEMPROP_BODY_MIN_CHARS = 200
#: A paragraph shorter than this (characters) does not vote for its container.
VOTING_PARAGRAPH_MIN_CHARS = 40
#: Share of a paragraph's length its grandparent gets as a vote (the parent gets all of it).
GRANDPARENT_VOTE = 0.6
#: How many ancestors of the winning container are tried for a body-like class name ...
BODY_HINT_MAX_LEVELS = 3
#: ... accepted when its text is at most this many times the container's, plus
#: :data:`BODY_HINT_EXTRA_CHARS` characters.
BODY_HINT_MAX_GROWTH = 1.6
BODY_HINT_EXTRA_CHARS = 500


#: How many distinct strings a :func:`remembered_search` or :func:`label` keeps (a page has a
#: few hundred labels).
REMEMBERED_STRINGS = 4096


def label(el: lxml_html.HtmlElement) -> str:
    """Class and id of an element; long slug-like tokens ("zendaya-promoted-dune-part-two-…",
    generated from a title) are left out, they name content, not a page block. Remembered per
    class and id: the walks up from each paragraph and picture ask for the same ones again
    (190,000 times on 700 pages)."""
    return _label(el.get("class") or "", el.get("id") or "")


@functools.lru_cache(maxsize=REMEMBERED_STRINGS)
def _label(classes: str, ident: str) -> str:
    return " ".join(
        t
        for t in f"{classes} {ident}".split()
        if len(t) <= LABEL_TOKEN_MAX_CHARS and t.count("-") < SLUG_HYPHENS
    )


def remembered_search(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """``pattern.search(text) is not None``, remembered per text: a page repeats its class names
    and labels on many elements, and a search of a long pattern costs more than the walk."""

    @functools.lru_cache(maxsize=REMEMBERED_STRINGS)
    def search(text: str) -> bool:
        return pattern.search(text) is not None

    return search


#: Whether a label (:func:`label`) names a block that is not the article (:data:`JUNK`).
junk_label = remembered_search(JUNK)


def find_body_container(page: Page) -> lxml_html.HtmlElement | None:
    """The element holding most of the article's paragraphs (``Page.body_container``): the
    ``itemprop=articleBody`` element, else the container the paragraphs vote for, moved up to a
    close ancestor named like a body container. Inside the headline's story, if the page has several."""
    tree = page.headline_article
    if tree is None:
        tree = page.tree
    best = _itemprop_body(tree)
    if best is None:
        best = _voted_container(tree)
        if best is not None:
            best = _named_body_above(best)
    return best


def _itemprop_body(tree: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    found = tree.xpath('.//*[@itemprop="articleBody"]')
    if not found:
        return None
    best = max(found, key=lambda e: len(e.text_content()))
    return best if len(best.text_content()) >= ITEMPROP_BODY_MIN_CHARS else None


def _voted_container(tree: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    """The element whose paragraphs (and its children's) hold the most text, outside page blocks."""
    scores: dict[lxml_html.HtmlElement, float] = {}
    for p in tree.iter("p"):
        n = len((p.text_content() or "").strip())
        if n < VOTING_PARAGRAPH_MIN_CHARS:
            continue
        parent = p.getparent()
        if parent is None:
            continue
        if any(a.tag in _BLOCKS for a in p.iterancestors()):
            continue
        scores[parent] = scores.get(parent, 0) + n
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0) + n * GRANDPARENT_VOTE
    return max(scores, key=lambda el: scores[el]) if scores else None


def _named_body_above(best: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """Climb to an ancestor that is named like a body container, if close."""
    for anc in list(best.iterancestors())[:BODY_HINT_MAX_LEVELS]:
        if (
            _BODY_HINT.search(label(anc))
            and len(anc.text_content())
            < BODY_HINT_MAX_GROWTH * len(best.text_content()) + BODY_HINT_EXTRA_CHARS
        ):
            best = anc
    return best


#: An <h1> shorter than this matches a headline only exactly (not as its beginning).
_H1_PREFIX_MIN_CHARS = 20


def _key(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").casefold()).strip()


def _names_headline(h1: str, headlines: list[str]) -> bool:
    return bool(h1) and any(
        h1 == h or (len(h1) >= _H1_PREFIX_MIN_CHARS and h.startswith(h1)) for h in headlines
    )


def page_articles(page: Page) -> list[lxml_html.HtmlElement]:
    """The outermost <article> elements that hold an <h1>: stories of their own."""
    return [
        a
        for a in page.tree.iter("article")
        if a.find(".//h1") is not None
        and not any(anc.tag == "article" for anc in a.iterancestors())
    ]


def find_headline_article(page: Page) -> lxml_html.HtmlElement | None:
    """When several articles share one page (an infinite-scroll page, a story with the next one
    below it), each an <article> with its own <h1>: the one whose <h1> is the page's headline
    (og:title, twitter:title, JSON-LD headline). None when the page holds one article or the
    headline names none or several (``Page.headline_article``)."""
    found = None
    articles = page_articles(page)
    if len(articles) > 1:
        headline = page.main.get("headline") if page.main else None
        headlines = [
            _key(h)
            for h in (
                page.meta_first("og:title"),
                page.meta_first("twitter:title"),
                headline if isinstance(headline, str) else None,
            )
            if h
        ]
        named = [
            a
            for a in articles
            if any(_names_headline(_key(h1.text_content()), headlines) for h1 in a.iter("h1"))
        ]
        found = named[0] if len(named) == 1 else None
    return found


def find_article_root(page: Page) -> lxml_html.HtmlElement | None:
    """Smallest ancestor of the body container that also holds the <h1> (or an <article>)
    (``Page.article_root``)."""
    body = page.body_container
    root = None
    if body is not None:
        h1s = page.tree.xpath("//h1")
        ancestors = [body, *body.iterancestors()]
        for anc in ancestors:
            if anc.tag in ("body", "html"):
                break
            if anc.tag == "article" or any(_is_ancestor(anc, h) for h in h1s):
                root = anc
                break
        if root is None:
            root = body
    return root


def _is_ancestor(anc: lxml_html.HtmlElement, el: lxml_html.HtmlElement) -> bool:
    return any(a is anc for a in el.iterancestors())


def in_junk(
    el: lxml_html.HtmlElement,
    stop: lxml_html.HtmlElement | None,
    *,
    body: lxml_html.HtmlElement | None = None,
) -> bool:
    """True if ``el`` sits in a related/promo/navigation block below ``stop``. A block with a
    junk-like name that holds the ``<h1>`` or the body container (``body``) is page layout."""
    for anc in el.iterancestors():
        if anc is stop:
            return False
        if anc.tag in ("nav", "footer") or (anc.tag == "aside" and not _has_caption(anc)):
            return True
        if junk_label(label(anc)) and not is_layout(anc, body):
            return True
    return False


def is_layout(block: lxml_html.HtmlElement, body: lxml_html.HtmlElement | None) -> bool:
    """Does ``block`` hold the article itself (its headline or its body container)?"""
    if body is not None and (block is body or _is_ancestor(block, body)):
        return True
    if _LEAD_MEDIA.search(label(block)):
        return True  # "mediaBlock ps-sidebar headmedia": the article's lead media, placed aside
    if block.find(".//h1") is not None:
        return True
    running = [
        len(t)
        for t in (p.text_content().strip() for p in block.iter("p"))
        if len(t) >= _PARAGRAPH_MIN
    ]
    return sum(running) >= _TEXT_MIN  # it holds running text: part of the body (a "teaser" intro)


#: class words of the block holding the article's lead picture or video
_LEAD_MEDIA = re.compile(
    r"head-?media|lead-?media|hero|article-?media|main-?media|opener|top-?media", re.I
)
#: a paragraph of running text has at least this many characters
_PARAGRAPH_MIN = 80
#: a block holding at least this much running text is part of the article
_TEXT_MIN = 600


def _has_caption(el: lxml_html.HtmlElement) -> bool:
    """An <aside> laying out a captioned picture is part of the article, not a sidebar."""
    return el.find(".//figcaption") is not None or bool(
        el.xpath('.//*[contains(@class, "caption") or contains(@class, "credit")]')
    )


#: A paragraph at least this long (characters) shows that a block holds article text.
_TEXT_PARAGRAPH_CHARS = 40


def find_body_containers(page: Page) -> list[lxml_html.HtmlElement]:
    """The body container and its peers: elements of the same tag and class holding paragraph
    text. Some pages cut the article into several blocks ("article__content" sections between
    ads, one per layout row); the body is all of them, in page order (``Page.body_containers``)."""
    body = page.body_container
    found: list[lxml_html.HtmlElement] = []
    if body is not None:
        found = [body]
        cls = body.get("class")
        if cls and cls.strip():
            found = [
                el
                for el in _peer_scope(page, body).iter(body.tag)
                if el is body
                or (
                    el.get("class") == cls
                    and not _is_ancestor(body, el)
                    and not _is_ancestor(el, body)
                    and any(
                        len(p.text_content().strip()) >= _TEXT_PARAGRAPH_CHARS for p in el.iter("p")
                    )
                )
            ]
    return found


def _peer_scope(page: Page, body: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """Where the body container's peers are sought: the story holding it (its <article>, or the
    article named by the headline), else the page."""
    story = next((a for a in body.iterancestors() if a.tag == "article"), None)
    if story is None:
        story = page.headline_article
    return page.tree if story is None else story
