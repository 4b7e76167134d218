"""Article text: a platform's clean body container when there is one, else trafilatura."""

from __future__ import annotations

import contextvars
import functools
import html
import inspect
import logging
import re
from collections import Counter
from typing import Literal

from lxml import etree
from lxml import html as lxml_html

from newsarchive.extract.container import junk_label, label, remembered_search
from newsarchive.extract.document import Page

logger = logging.getLogger(__name__)

_BLOCK_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "td", "th"}
_SKIP_TAGS = {
    "script",
    "style",
    "noscript",
    "figure",
    "figcaption",
    "aside",
    "nav",
    "footer",
    "form",
    "button",
    "svg",
    "iframe",
    "template",
    "small",
}
_SKIP_CLASS = re.compile(
    r"caption|credit|copyright|shortcode-media|embed|twitter-tweet|instagram", re.I
)


#: Elements whose text is never shown as article text (code, data, templates).
_INVISIBLE = {"script", "style", "noscript", "template", "svg", "button"}


def visible_text(el: lxml_html.HtmlElement) -> str:
    """An element's text without the text of scripts, styles and templates inside it (a
    paragraph that embeds a player or a share widget keeps only its words), spaces collapsed.
    Iterative (``iterwalk``): a paragraph nested thousands deep does not exhaust the stack."""
    parts: list[str] = []
    walker = etree.iterwalk(el, events=("start", "end", "comment", "pi"))
    for event, node in walker:
        if event in ("comment", "pi"):
            parts.append(node.tail or "")
        elif event == "start":
            if node is el or node.tag not in _INVISIBLE:
                parts.append(node.text or "")
            else:
                walker.skip_subtree()
        elif node is not el:
            parts.append(node.tail or "")
    return " ".join("".join(parts).split())


def container_text(container: lxml_html.HtmlElement) -> str:
    """Paragraph text of a known-clean body container (captions, embeds and promos left out)."""
    return "\n\n".join(visible_text(block) for block in container_blocks(container))


def container_blocks(container: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    """The paragraph-like blocks of a body container holding text, in order (captions, embeds
    and promos left out)."""
    paragraphs: list[lxml_html.HtmlElement] = []

    def walk(el: lxml_html.HtmlElement) -> None:
        for child in el:
            if not isinstance(child.tag, str) or child.tag in _SKIP_TAGS:
                continue
            lab = label(child)
            if _SKIP_CLASS.search(lab) or junk_label(lab):
                continue
            if child.tag in _BLOCK_TAGS and not child.xpath(".//p|.//li"):
                if visible_text(child):
                    paragraphs.append(child)
            else:
                walk(child)

    walk(container)
    return paragraphs


#: Blocks inside articles that are never article text: author bios, newsletter boxes,
#: related-story lists. Removed from the tree before trafilatura (narrowly, by class/id).
_PRUNE = re.compile(
    r"author[-_]?(?:bio|info|box|card|details|description)|about[-_]?the[-_]?author|"
    r"newsletter|related[-_]?(?:articles|posts|stories|content|links)|more[-_]?from",
    re.I,
)
_PRUNE_XPATH = "//*[@class or @id]"


#: A paragraph whose text outside links is at most this long, or this share of it, is a link
#: (or a row of links: "<a>Story</a> [VIDEO]<br><a>Story</a>"), not running text.
LINK_PARAGRAPH_OWN_CHARS = 20
LINK_PARAGRAPH_OWN_SHARE = 0.25


def _is_link_paragraph(para: lxml_html.HtmlElement) -> bool:
    total = len(para.text_content().strip())
    links = sum(len(a.text_content().strip()) for a in para.iter("a"))
    own = total - links
    return own <= LINK_PARAGRAPH_OWN_CHARS or own <= LINK_PARAGRAPH_OWN_SHARE * total


_INLINE = {
    "span",
    "a",
    "i",
    "b",
    "em",
    "strong",
    "font",
    "small",
    "u",
    "sup",
    "sub",
    "ins",
    "mark",
    "abbr",
}


def _drop_empty_inline(tree: lxml_html.HtmlElement) -> None:
    """Empty inline elements inside paragraphs out, their tails kept. trafilatura removes an
    element by its id or class ("more-5662", a WordPress "read more" anchor, matches its
    discard rules) together with the text that follows it in the paragraph."""
    for el in tree.xpath("//p//*[not(*)]"):
        if el.tag in _INLINE and not (el.text or "").strip() and el.getparent() is not None:
            el.drop_tag()


def _unlink_sentences(tree: lxml_html.HtmlElement) -> None:
    """Turn links inside running text into plain text. trafilatura's precision mode drops a
    paragraph whose words are mostly link text, and news paragraphs often are ("He accused
    members of <a>relying too much on the US military</a>."). Paragraphs that are only a link
    ("Read more: ...") keep their link. Empty inline children go first: trafilatura may
    discard them together with the text that follows."""
    for a in tree.xpath("//p//a"):
        if a.getparent() is None:
            continue
        para = next((x for x in a.iterancestors() if x.tag == "p"), None)
        if para is None:
            continue
        if (
            len(para.text_content().strip())
            <= len(a.text_content().strip()) + LINK_PARAGRAPH_OWN_CHARS
        ):
            continue
        for d in list(a.iterdescendants()):
            if isinstance(d.tag, str) and d.tag != "img" and not d.text_content().strip():
                d.drop_tag()
        a.drop_tag()


#: A list item is a link to elsewhere when its link text is at least this share of its text
#: and what is not link text is a short label ("Politik: <a>...</a>").
LINK_ITEM_SHARE = 0.5
LINK_ITEM_LABEL_CHARS = 40
#: A heading introducing such a list ("Related news", "Mehr zum Thema") is at most this long.
LIST_HEADING_CHARS = 80
#: A list (or a paragraph of lines) needs at least this many links to be a list of links.
LINK_LIST_MIN_ITEMS = 2
_HEADINGS = {"h2", "h3", "h4", "h5", "h6"}


def _is_link_item(li: lxml_html.HtmlElement) -> bool:
    text = " ".join(li.text_content().split())
    links = sum(
        len(" ".join(a.text_content().split()))
        for a in li.iter("a")
        if (a.get("href") or "#")[:1] != "#"
    )
    return (
        bool(text)
        and links >= LINK_ITEM_SHARE * len(text)
        and len(text) - links <= LINK_ITEM_LABEL_CHARS
    )


def _is_link_list(el: lxml_html.HtmlElement) -> bool:
    """A list of two or more items that are each a link (with at most a short label): "more on
    this" lists of other articles printed inside the text, never article text."""
    items = [li for li in el if isinstance(li.tag, str) and li.tag == "li"]
    return len(items) >= LINK_LIST_MIN_ITEMS and all(_is_link_item(li) for li in items)


def _list_heading(el: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    """The short heading right before a list, if any."""
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if prev is None or (el.getparent() is not None and (prev.tail or "").strip()):
        return None
    text = prev.text_content().strip()
    if (
        text
        and len(text) <= LIST_HEADING_CHARS
        and (prev.tag in _HEADINGS or (prev.tag in ("p", "div", "strong", "b") and len(prev) <= 1))
    ):
        return prev
    return None


def _is_link_row(el: lxml_html.HtmlElement) -> bool:
    """A paragraph made of two or more links to elsewhere, one a line, and little else (other
    stories printed inside the text)."""
    links = [
        a for a in el.iter("a") if (a.get("href") or "#")[:1] != "#" and a.text_content().strip()
    ]
    return (
        len(links) >= LINK_LIST_MIN_ITEMS
        and el.find(".//br") is not None
        and _is_link_paragraph(el)
    )


def _drop_link_lists(tree: lxml_html.HtmlElement) -> None:
    """Lists (and rows) of links to other articles and their headings out of the tree."""
    doomed = [el for el in tree.iter("ul", "ol") if _is_link_list(el)]
    doomed += [el for el in tree.iter("p") if _is_link_row(el)]
    for el in doomed:
        if el.getparent() is None:
            continue
        heading = _list_heading(el)
        if heading is not None:
            heading.drop_tree()
        el.drop_tree()


def _drop_other_articles(page: Page) -> None:
    """Several articles on one page: the stories whose <h1> is not the headline go."""
    from newsarchive.extract.container import page_articles

    keep = page.headline_article
    if keep is None:
        return
    for other in page_articles(page):
        if other is not keep and other.getparent() is not None:
            other.drop_tree()


#: Whether a class or id value matches :data:`_PRUNE` (remembered per value).
_prunable_name = remembered_search(_PRUNE)


def _names_prunable(el: lxml_html.HtmlElement) -> bool:
    """Whether the raw class or id matches :data:`_PRUNE`: a cheap test before the label's.
    ``_PRUNE`` matches no space, so it matches the label (tokens of both, joined by spaces)
    only where it matches within one token of the class or the id."""
    return _prunable_name(el.get("class") or "") or _prunable_name(el.get("id") or "")


def _prune_blocks(page: Page) -> None:
    """Author bios, newsletter boxes and related lists out of the tree (by class/id), never
    a block holding the body container: a class naming a box may sit on the article's wrapper."""

    keep: set[lxml_html.HtmlElement] = set()
    for container in page.body_containers:
        keep.add(container)
        keep.update(container.iterancestors())
    doomed = [
        el
        for el in page.tree.xpath(_PRUNE_XPATH)
        if _names_prunable(el)
        and el.tag not in ("html", "body", "article", "main")
        and el not in keep
        and _PRUNE.search(label(el))
    ]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()


def trafilatura_text(page: Page, *, prose: Prose | None = None) -> str | None:
    """trafilatura on the shared tree. It prunes the tree in place: call it last.

    ``prose`` is the body containers' (:func:`page_prose`, read before): when trafilatura's own
    extraction covers it, its comparison with readability and justext is skipped
    (:func:`_skip_covered_comparison`)."""
    _prune_blocks(page)
    _drop_other_articles(page)
    _drop_link_lists(page.tree)
    _drop_empty_inline(page.tree)
    _unlink_sentences(page.tree)
    _drop_unread(page.tree)
    token = _PROSE.set(prose)
    try:
        return _trafilatura(page.tree, page.url, mode="precision")
    finally:
        _PROSE.reset(token)


#: Elements trafilatura's own cleaning deletes (its ``MANUALLY_CLEANED``) before it reads any
#: text, and that hold none of an article's: media and embeds, form fields, noscript, nav and
#: footer. Left in, they are copied three times and searched by the XPath boilerplate rules run
#: on the raw tree for readability. Not aside, button, svg or form: on the dev pages, dropping
#: any of those changed a body (an article inside an aside, a link's "opens new tab" label).
_UNREAD_TAGS = (
    "style",
    "iframe",
    "embed",
    "object",
    "canvas",
    "map",
    "audio",
    "video",
    "select",
    "textarea",
    "input",
    "noscript",
    "nav",
    "footer",
)


def _drop_unread(tree: lxml_html.HtmlElement) -> None:
    """What trafilatura would delete unread out before it runs: less to copy and to search,
    the same text (issue 13; byte-identical predictions on the 226 dev pages, its time a page
    11% less). That is :data:`_UNREAD_TAGS`, the head's elements (its cleaning drops the head,
    readability scores only the body's paragraphs) and the scripts, but JSON-LD ones: its only
    look at scripts, for a forum page, reads those, in the head too."""
    head = tree.find("head")
    if head is not None:
        for el in list(head):
            if el.tag != "script":
                el.drop_tree()
    for el in list(tree.iter("script", *_UNREAD_TAGS)):
        if el.tag != "script" or el.get("type") != "application/ld+json":
            el.drop_tree()


#: trafilatura's modes: its precision pass, its default, its recall pass.
TrafilaturaMode = Literal["precision", "default", "recall"]


def _trafilatura(tree: lxml_html.HtmlElement, url: str, *, mode: TrafilaturaMode) -> str | None:
    """trafilatura's text of ``tree`` in ``mode`` (tables kept, comments and metadata left
    out); None when it finds none or fails (third-party code: any failure means "no text")."""
    import trafilatura

    _share_justext_stoplist()
    _guard_regex_tests()
    _skip_covered_comparison()
    try:
        doc = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            favor_precision=mode == "precision",
            favor_recall=mode == "recall",
        )
    except Exception:
        logger.warning("trafilatura (%s) failed on %s", mode, url, exc_info=True)
        return None
    if doc is None:
        return None
    text = (
        doc.text if hasattr(doc, "text") else (doc.get("text") if isinstance(doc, dict) else None)
    )
    return text or None


@functools.cache
def _share_justext_stoplist() -> None:
    """trafilatura's justext fallback, on a page it was given no language for, counts stop words
    of all of justext's stoplists at once (154,484 words). trafilatura keeps their union as a
    tuple, justext a lower-cased frozenset copy of it: 24 MiB in each worker. Here both hold one
    frozenset of the same (already lower-case) words, 10 MiB; justext classifies paragraphs
    against the same words as before (issue 13). Every other stoplist goes through justext's own
    ``define_stoplist`` unchanged."""
    import justext.core
    import trafilatura.external
    from justext.utils import get_stoplist, get_stoplists

    shared = frozenset(word for language in get_stoplists() for word in get_stoplist(language))
    define = justext.core.define_stoplist

    def define_stoplist(stoplist):
        return stoplist if stoplist is shared else define(stoplist)

    trafilatura.external.JT_STOPLIST = shared  # type: ignore[assignment]
    justext.core.define_stoplist = define_stoplist


#: The prose the running extraction must cover (see :func:`_skip_covered_comparison`); None
#: when the page gives none.
_PROSE: contextvars.ContextVar[Prose | None] = contextvars.ContextVar("prose", default=None)
#: trafilatura's comparison step, as :func:`_skip_covered_comparison` knows it.
_COMPARE_PARAMETERS = ["cleaned_tree", "raw_tree", "body", "text", "options"]


@functools.cache
def _skip_covered_comparison() -> None:
    """trafilatura compares its own extraction with readability's and justext's, to rescue an
    empty, short or badly structured one: readability runs on every page, about a sixth of an
    extraction. When the extraction in hand already covers :data:`_PROSE`, the comparison is
    skipped: it could only swap the article for another block. On the 226 dev pages the
    comparison changed the precision pass on 8, 7 of them with no reference or a fragment of
    one (0-291 characters), where it still runs; the eighth's body came out closer to the
    truth without it (issue 13)."""
    import trafilatura.core

    compare = getattr(trafilatura.core, "compare_extraction", None)
    if compare is None or list(inspect.signature(compare).parameters) != _COMPARE_PARAMETERS:
        logger.warning("trafilatura's comparison step is not the one expected; left as it is")
        return

    def compare_unless_covered(cleaned_tree, raw_tree, body, text, options):
        prose = _PROSE.get()
        if prose is not None and prose.covered_by(text):
            return body, text
        return compare(cleaned_tree, raw_tree, body, text, options)

    trafilatura.core.compare_extraction = compare_unless_covered


#: The namespace of ``re:test`` (EXSLT regular expressions).
_EXSLT_REGEXP = "http://exslt.org/regular-expressions"
#: ``re:test(@attr, 'pattern')`` (or of ``@a|@b``, with or without flags) in an XPath expression.
_RE_TEST = re.compile(r"re:test\((@[\w-]+(?:\|@[\w-]+)*), ('[^'\\]*')((?:, '[a-z]*')?)\)")


def guard_regex_tests(path: str) -> str:
    """``path`` with each ``re:test`` of attributes (:data:`_RE_TEST`) asked only of an element
    that has one of them, when its pattern cannot match an empty string (what the test of a
    missing attribute searches, so that it would be false anyway), and given the attribute's
    text rather than the attribute (``string()``, the text of the first attribute present, as
    lxml takes it; cheaper to hand to Python). The same elements match; a rewritten test no
    longer reads ``re:test(@``, so it is left as it is."""

    def guard(test: re.Match[str]) -> str:
        attributes, pattern, flags = test.groups()
        if re.search(pattern[1:-1], ""):
            return test.group(0)
        return f"({attributes} and re:test(string({attributes}), {pattern}{flags}))"

    return _RE_TEST.sub(guard, path)


@functools.cache
def _guard_regex_tests() -> None:
    """trafilatura's boilerplate and content rules (``trafilatura.xpaths``) test most elements'
    class, id or style against regular expressions: ``re:test`` is a call into Python for each
    element, whether it has the attribute or not. Each rule becomes :func:`guard_regex_tests`'
    version of itself, in place (every module holds the same lists): the rules 22% faster on
    the dev pages, extraction about 5%, the same text (issue 13; byte-identical predictions on
    the 226 dev pages)."""
    import trafilatura.xpaths

    for rules in vars(trafilatura.xpaths).values():
        if not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            if (
                not isinstance(rule, etree.XPath)
                or (path := guard_regex_tests(rule.path)) == rule.path
            ):
                continue
            try:
                rules[i] = etree.XPath(path, namespaces={"re": _EXSLT_REGEXP})
            except etree.XPathSyntaxError:  # not expected; then the rule as it was
                logger.warning("trafilatura's rule kept as it was: %s", rule.path)


#: A block of at least this many characters, mostly not link text, is prose of the article.
PROSE_MIN_CHARS = 100
PROSE_MAX_LINK_SHARE = 0.5
#: Below this much prose in the body containers there is nothing to judge an extraction by.
REFERENCE_MIN_CHARS = 500
#: The extraction is a fragment when it holds less than this share of the containers' prose.
FRAGMENT_COVER = 0.8
#: Another extraction replaces a fragment when it matches the prose this much better (F1 of
#: word 4-grams) and matches it at least ``RESCUE_MIN_MATCH``.
RESCUE_MARGIN = 0.05
RESCUE_MIN_MATCH = 0.8
_SHINGLE = 4


def prose_reference(page: Page) -> str:
    """The prose paragraphs of the body containers (long blocks, mostly not links): what an
    extraction of this page must cover. Read before trafilatura prunes the tree."""

    prose: list[str] = []
    for container in page.body_containers:
        for block in container_blocks(container):
            text = visible_text(block)
            links = sum(len(visible_text(a)) for a in block.iter("a"))
            if len(text) >= PROSE_MIN_CHARS and links < PROSE_MAX_LINK_SHARE * len(text):
                prose.append(text)
    return "\n\n".join(prose)


def page_prose(page: Page) -> Prose | None:
    """The body containers' prose (:func:`prose_reference`), when there is enough of it
    (:data:`REFERENCE_MIN_CHARS`) to judge an extraction by."""
    reference = prose_reference(page)
    return Prose(reference) if len(reference) >= REFERENCE_MIN_CHARS else None


def _shingles(text: str | None) -> Counter:
    words = re.findall(r"\w+", (text or "").casefold())
    return Counter(zip(*(words[i:] for i in range(_SHINGLE)), strict=False))  # shifted lists


class Prose:
    """Prose an extraction must cover, as word 4-grams, to score extractions against."""

    def __init__(self, text: str) -> None:
        self.shingles = _shingles(text)
        self.size = sum(self.shingles.values())

    def match(self, text: str | None) -> tuple[float, float]:
        """(share of the prose found in ``text``, F1 of the two) over word 4-grams."""
        found = _shingles(text)
        common = sum((self.shingles & found).values())
        if not common:
            return 0.0, 0.0
        recall, precision = common / self.size, common / sum(found.values())
        return recall, 2 * recall * precision / (recall + precision)

    def covered_by(self, text: str | None) -> bool:
        """Whether ``text`` holds at least :data:`FRAGMENT_COVER` of the prose."""
        return self.match(text)[0] >= FRAGMENT_COVER


def _other_extractions(page: Page) -> list[str]:
    """trafilatura again on a fresh parse of the page (none of our removals), in its default
    and its recall mode."""
    from newsarchive.extract.document import parse

    texts: list[str] = []
    for mode in ("default", "recall"):
        joined = paragraphs_joined(_trafilatura(parse(page.text), page.url, mode=mode))
        if joined:
            texts.append(joined)
    return texts


def rescue_fragment(
    page: Page, text: str | None, prose: Prose | None, structured: str | None
) -> str | None:
    """When the precision pass holds much less than the body containers' prose (a fragment, or
    the wrong block after a removal), try trafilatura's default and recall modes on the
    unpruned page and the JSON-LD articleBody, and keep what matches the prose best."""
    if prose is None:
        return text
    cover, own_match = prose.match(text)
    if cover >= FRAGMENT_COVER:
        return text
    scored = [(prose.match(c)[1], c) for c in [structured, *_other_extractions(page)] if c]
    if not scored:
        return text
    match, best = max(scored, key=lambda pair: pair[0])
    if match < RESCUE_MIN_MATCH or match < own_match + RESCUE_MARGIN:
        return text
    logger.debug(
        "body of %s: the precision pass covered %.2f of the prose; replaced", page.url, cover
    )
    return best


def paragraphs_joined(text: str | None) -> str | None:
    """trafilatura puts one paragraph a line; the archive separates paragraphs by a blank line."""
    if not text:
        return None
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


def _key(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").casefold()).strip()


#: A short line opening a block that follows the article (related stories, most read...).
_SECTION_END = re.compile(
    r"^(?:more (?:from|on|about|stories|news)\b.{0,40}|related(?: articles| stories| content| news| coverage| reading)?|"
    r"recommended(?: for you| stories| reading)?|read next|you (?:may|might) also like|further reading|"
    r"comments?|leave a (?:comment|reply)|"
    # the same in other languages: related articles, more on the topic, comments
    r"ähnliche artikel|weitere artikel|mehr zum thema|das könnte sie auch interessieren|kommentar(?:e| abgeben)|"
    r"articles similaires|sur le même sujet|à lire également|artículos relacionados|noticias relacionadas|"
    r"articoli correlati|leggi anche|relaterte artikler|relaterade artiklar|relaterede artikler|"
    r"関連記事|おすすめ情報|関連ニュース|관련\s?기사|相关新闻|相关文章)\s*[:：]?$",
    re.I,
)
#: Lines of site furniture that extraction sometimes keeps inside the text.
_FURNITURE = re.compile(
    r"^(?:sign up (?:for|to)\b.{0,120}|follow .{1,40} on (?:google news|twitter|x|facebook|instagram).{0,120}|"
    r"our standards: .{0,80}|you must confirm your public display name.{0,80}|please logout and then login again.{0,120}|"
    r"advertisement|share this article|click here to .{0,80}|subscribe (?:now|today|to) .{0,100}|"
    r"(?:©|\(c\)|copyright\b|all rights reserved|alle rechte vorbehalten|tous droits réservés).{0,120})$",
    re.I,
)


#: "Read more"-style labels in many languages: a line made of one (alone, or followed by the
#: title of another article) is a link to elsewhere, not text.
_READ_MORE_LABELS = (
    # English
    r"read (?:more|also|next|this|the full story)|also read|see (?:more|also)|more(?: on this)?|related(?: stories| articles| news)?|"
    r"recommended|don'?t miss|watch(?: now)?|listen(?: now)?|"
    # German
    r"lesen sie (?:auch|mehr|hier|weiter)|auch interessant|mehr zum thema|das könnte sie auch interessieren|"
    r"weiterlesen|zum artikel|siehe auch|lesetipp|empfehlungen|"
    # French, Spanish, Portuguese, Italian
    r"(?:à|a) lire (?:aussi|également|ensuite)|lire aussi|voir aussi|sur le même sujet|"
    r"lee (?:también|más)|leer más|te puede interesar|(?:leia|veja) (?:também|mais)|saiba mais|"
    r"leggi anche|potrebbe interessarti|"
    # Dutch, Nordic, Finnish, Polish, Turkish
    r"lees (?:ook|meer)|les også|läs (?:också|mer)|læs også|lue myös|czytaj (?:też|także|więcej)|"
    r"ayrıca bakınız|daha fazla oku|ilgili haberler|"
    # Swahili, Zulu, Afrikaans
    r"soma (?:pia|zaidi)|funda (?:olunye udaba lapha|futhi|kabanzi)|lees ook|"
    # Japanese, Korean, Chinese
    r"関連記事|あわせて読みたい|こちらもおすすめ|おすすめ情報|관련\s?기사|함께 보면 좋은 기사|相关阅读|延伸阅读"
)
_READ_MORE = re.compile(
    rf"^[-–—•*»>|\s]*(?:{_READ_MORE_LABELS})\s*(?:$|[:：|»>]\s*\S.*$|\s[\-–—]\s+\S.*$|\.{{3}}|…)",
    re.I,
)
#: Such a line is short: a label and a headline.
READ_MORE_MAX_CHARS = 250


#: Promotion of the site's newsletters, channels and tip lines, in many languages; dropped
#: when a short paragraph among the last few says so.
_PROMO = re.compile(
    r"newsletter|in (?:your|ihr(?:em)?) (?:inbox|postfach)|\binbox\b|abonnier|abonnez|abonniere|suscr[ií]bete|"
    r"whatsapp-?(?:kanal|channel|canal)|[\w.+-]+@[\w-]+\.[a-z]{2,}",
    re.I,
)
#: How many paragraphs at the end are looked at for promotion, and how short such a line is.
PROMO_TAIL = 4
PROMO_MAX_CHARS = 250


#: A "Related stories" heading ends the text only from this paragraph on (and not in the
#: first half of the text) ...
SECTION_END_MIN_INDEX = 3
#: ... and only when it is shorter than this (characters): a heading, not a sentence.
SECTION_END_MAX_CHARS = 60


def drop_furniture(body: str | None) -> str | None:
    """Cut the text at a "More from ..." / "Related stories" heading in its later part, and drop
    single lines of site furniture (newsletter sign-up, "follow us", standards notes),
    "Read more: ..." / "Lesen Sie auch" / "À lire aussi" lines pointing to other articles,
    timestamps above or below the text and promotion among its last lines."""
    if not body:
        return body
    paragraphs = body.split("\n\n")
    kept: list[str] = []
    for i, para in enumerate(paragraphs):
        line = para.strip()
        if (
            i >= max(SECTION_END_MIN_INDEX, len(paragraphs) // 2)
            and len(line) < SECTION_END_MAX_CHARS
            and _SECTION_END.match(line)
        ):
            break
        if not _is_furniture(line, index=i):
            kept.append(para)
    return "\n\n".join(_drop_tail_promotion(kept)) or None


def _drop_tail_promotion(paragraphs: list[str]) -> list[str]:
    """Timestamp and promotion lines among the last lines, counted from the end over the
    lines kept (a tip line above a newsletter line above a "follow us" line all go)."""
    kept: list[str] = []
    for para in reversed(paragraphs):
        line = para.strip()
        from_end = len(kept) + 1
        if from_end <= DATELINE_TAIL and _is_timestamp(line):
            continue
        if from_end <= PROMO_TAIL and len(line) < PROMO_MAX_CHARS and _PROMO.search(line):
            continue
        kept.append(para)
    return kept[::-1]


_DATE_OR_TIME = re.compile(r"\d{1,4}\s*[./\-年]\s*\d{1,2}\s*[./\-月]\s*\d{1,4}|\d{1,2}[:時]\d{2}")
#: A timestamp line ("05.08.2024, 20:59 Uhr", "2025年1月14日 01時28分 (更新)", "Updated at 1:23
#: p.m.") is short and has few words besides its dates and times.
DATELINE_MAX_CHARS = 80
DATELINE_MAX_WORDS = 5
#: Timestamps are printed above the text or below it: the first two and the last line.
DATELINE_HEAD = 2
DATELINE_TAIL = 1


_SENTENCE_END = re.compile(r"[^\W\d_]{3,}[.!?。]$")


def _is_timestamp(line: str) -> bool:
    """A short line of dates and times ("05.08.2024, 20:59 Uhr"), not a sentence that holds a
    date ("On 12.05.2024 the council met.")."""
    if (
        len(line) >= DATELINE_MAX_CHARS
        or not _DATE_OR_TIME.search(line)
        or _SENTENCE_END.search(line)
    ):
        return False
    return len(re.findall(r"[^\W\d_]+", _DATE_OR_TIME.sub(" ", line))) <= DATELINE_MAX_WORDS


def _is_furniture(line: str, *, index: int) -> bool:
    """A line of site furniture; ``index`` is its place in the text."""
    if index < DATELINE_HEAD and _is_timestamp(line):
        return True
    return len(line) < READ_MORE_MAX_CHARS and bool(
        _FURNITURE.match(line) or _READ_MORE.match(line)
    )


#: An alt or title text shorter than this is a label or a section heading repeated as the
#: picture's alt ("2. Take inventory"), not a caption.
PICTURE_TEXT_MIN_CHARS = 30


def picture_texts(page: Page) -> list[str]:
    """The alt and title texts of the page's pictures: a paragraph repeating one is the
    picture's caption printed as text. Read before trafilatura prunes the tree."""
    texts = {
        " ".join((img.get(attr) or "").split())
        for img in page.tree.iter("img")
        for attr in ("alt", "title")
    }
    return sorted(t for t in texts if len(t) >= PICTURE_TEXT_MIN_CHARS)


#: A caption or credit of at most this many characters (letters and digits) is too short to
#: be recognised in the text ("AP").
KNOWN_PART_MIN_CHARS = 3
#: The headline repeated within the first this many paragraphs is dropped.
TITLE_REPEAT_PARAGRAPHS = 2
#: A caption printed once in the text is dropped when it is at most this long (characters): a
#: caption line; a longer one may be the paragraph itself.
CAPTION_LINE_MAX_CHARS = 100


def drop_known_parts(
    body: str | None, title: str | None, captions: list[str], titles: list[str] | None = None
) -> str | None:
    """Remove from the text what is not article text but was printed inside it: the headline
    repeated as the first paragraph, picture captions and credits."""
    if not body:
        return body
    paragraphs = body.split("\n\n")
    known = {_key(c) for c in captions if c and len(_key(c)) > KNOWN_PART_MIN_CHARS}
    title_keys = {_key(t) for t in [title, *(titles or [])] if t}
    counts = Counter(_key(p) for p in paragraphs)
    kept = []
    for i, para in enumerate(paragraphs):
        key = _key(para)
        if i < TITLE_REPEAT_PARAGRAPHS and key in title_keys:
            continue
        if key in known:
            # a caption printed in the text: drop it when short (a caption line) or repeated
            # (caption and paragraph); a long single occurrence may be the paragraph itself
            if counts[key] > 1:
                counts[key] -= 1
                continue
            if len(para) <= CAPTION_LINE_MAX_CHARS:
                continue
        kept.append(para)
    return "\n\n".join(kept) or None


#: How many times an entity-escaped articleBody is unescaped ("&amp;Ccedil;" is escaped twice).
_MAX_UNESCAPE = 2
_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)\b[^<>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_BLOCK_MARKUP = {
    "p",
    "br",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "blockquote",
    "section",
    "figure",
    "figcaption",
    "tr",
    "table",
    "body",
}


def _strip_markup(text: str) -> str:
    """Tags out of a text that carries HTML; block tags become paragraph breaks."""

    def replace(match: re.Match) -> str:
        return "\n\n" if match.group(2).lower() in _BLOCK_MARKUP else ""

    return _TAG.sub(replace, text)


def _collapse_doubled(text: str) -> str:
    """A text given twice in a row ("A B A B", some CMSs fill articleBody so) given once."""
    paragraphs = [p for p in (x.strip() for x in text.split("\n\n")) if p]
    half = len(paragraphs) // 2
    if (
        len(paragraphs) % 2 == 0
        and half
        and [_key(p) for p in paragraphs[:half]] == [_key(p) for p in paragraphs[half:]]
    ):
        return "\n\n".join(paragraphs[:half])
    words = text.split()
    half = len(words) // 2
    if len(words) % 2 == 0 and half and words[:half] == words[half:]:
        return " ".join(words[:half])
    return text


def structured_body_text(raw: str | None) -> str | None:
    """A JSON-LD ``articleBody`` as plain text: tags stripped (block tags become paragraph
    breaks), entities decoded (also when escaped twice), a doubled text collapsed."""
    if not raw:
        return None
    text = raw
    for _ in range(_MAX_UNESCAPE):
        if _TAG.search(text):
            text = _strip_markup(text)
        if not _ENTITY.search(text):
            break
        text = html.unescape(text)
    if _TAG.search(text):
        text = _strip_markup(text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    text = "\n\n".join(p for p in paragraphs if p)
    return _collapse_doubled(text) or None


#: The articleBody replaces the extraction when its text is this much longer.
STRUCTURED_BODY_RATIO = 1.5
#: ... and at least this long (characters): a short articleBody is a summary.
STRUCTURED_BODY_MIN_CHARS = 500


def prefer_structured_body(text: str | None, article_body: str | None) -> str | None:
    """JSON-LD articleBody (its text, see :func:`structured_body_text`) when it is
    much longer than the extracted text: the extraction then missed part of the article
    (precision mode dropping paragraphs)."""
    if (
        article_body
        and len(article_body) >= STRUCTURED_BODY_RATIO * len(text or "")
        and len(article_body) > STRUCTURED_BODY_MIN_CHARS
    ):
        return article_body
    return text
