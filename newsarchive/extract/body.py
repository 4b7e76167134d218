"""Article text: a platform's clean body container when there is one, else trafilatura."""
from __future__ import annotations

import html
import logging
import re
from collections import Counter

from lxml import html as lxml_html

from newsarchive.extract.container import JUNK, label
from newsarchive.extract.document import Page

logger = logging.getLogger(__name__)

_BLOCK_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "td", "th"}
_SKIP_TAGS = {"script", "style", "noscript", "figure", "figcaption", "aside", "nav", "footer", "form",
              "button", "svg", "iframe", "template", "small"}
_SKIP_CLASS = re.compile(r"caption|credit|copyright|shortcode-media|embed|twitter-tweet|instagram", re.I)


def container_text(container: lxml_html.HtmlElement) -> str:
    """Paragraph text of a known-clean body container (captions, embeds and promos left out)."""
    paragraphs: list[str] = []

    def walk(el: lxml_html.HtmlElement) -> None:
        for child in el:
            if not isinstance(child.tag, str) or child.tag in _SKIP_TAGS:
                continue
            lab = label(child)
            if _SKIP_CLASS.search(lab) or JUNK.search(lab):
                continue
            if child.tag in _BLOCK_TAGS and not child.xpath(".//p|.//li"):
                text = " ".join(child.text_content().split())
                if text:
                    paragraphs.append(text)
            else:
                walk(child)

    walk(container)
    return "\n\n".join(paragraphs)


#: Blocks inside articles that are never article text: author bios, newsletter boxes,
#: related-story lists. Removed from the tree before trafilatura (narrowly, by class/id).
_PRUNE = re.compile(
    r"author[-_]?(?:bio|info|box|card|details|description)|about[-_]?the[-_]?author|"
    r"newsletter|related[-_]?(?:articles|posts|stories|content|links)|more[-_]?from",
    re.I,
)
_PRUNE_XPATH = "//*[@class or @id]"


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
        if len(para.text_content().strip()) <= len(a.text_content().strip()) + 20:
            continue
        for d in list(a.iterdescendants()):
            if isinstance(d.tag, str) and d.tag != "img" and not d.text_content().strip():
                d.drop_tag()
        a.drop_tag()


def trafilatura_text(page: Page) -> str | None:
    """trafilatura on the shared tree. It prunes the tree in place: call it last."""
    import trafilatura

    doomed = [el for el in page.tree.xpath(_PRUNE_XPATH)
              if el.tag not in ("html", "body", "article", "main") and _PRUNE.search(label(el))]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()
    _unlink_sentences(page.tree)
    try:
        doc = trafilatura.bare_extraction(
            page.tree, url=page.url, with_metadata=False, include_comments=False, favor_precision=True,
            include_tables=True,
        )
    except Exception:  # trafilatura is third-party code: any failure means "no text"
        logger.warning("trafilatura failed on %s", page.url, exc_info=True)
        return None
    if doc is None:
        return None
    text = doc.text if hasattr(doc, "text") else (doc.get("text") if isinstance(doc, dict) else None)
    return text or None


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
    r"recommended(?: for you| stories| reading)?|read next|you (?:may|might) also like|further reading)\s*:?$",
    re.I,
)
#: Lines of site furniture that extraction sometimes keeps inside the text.
_FURNITURE = re.compile(
    r"^(?:sign up (?:for|to)\b.{0,120}|follow .{1,40} on (?:google news|twitter|x|facebook|instagram).{0,120}|"
    r"our standards: .{0,80}|you must confirm your public display name.{0,80}|please logout and then login again.{0,120}|"
    r"advertisement|share this article|click here to .{0,80}|subscribe (?:now|today|to) .{0,100})$",
    re.I,
)


def drop_furniture(body: str | None) -> str | None:
    """Cut the text at a "More from ..." / "Related stories" heading in its later part, and drop
    single lines of site furniture (newsletter sign-up, "follow us", standards notes)."""
    if not body:
        return body
    paragraphs = body.split("\n\n")
    kept: list[str] = []
    for i, para in enumerate(paragraphs):
        line = para.strip()
        if i >= max(3, len(paragraphs) // 2) and len(line) < 60 and _SECTION_END.match(line):
            break
        if len(line) < 250 and _FURNITURE.match(line):
            continue
        kept.append(para)
    return "\n\n".join(kept) or None


def drop_known_parts(body: str | None, title: str | None, captions: list[str],
                     titles: list[str] | None = None) -> str | None:
    """Remove from the text what is not article text but was printed inside it: the headline
    repeated as the first paragraph, picture captions and credits."""
    if not body:
        return body
    paragraphs = body.split("\n\n")
    known = {_key(c) for c in captions if c and len(_key(c)) > 3}
    title_keys = {_key(t) for t in [title, *(titles or [])] if t}
    counts = Counter(_key(p) for p in paragraphs)
    kept = []
    for i, para in enumerate(paragraphs):
        key = _key(para)
        if i < 2 and key in title_keys:
            continue
        if key in known:
            # a caption printed in the text: drop it when short (a caption line) or repeated
            # (caption and paragraph); a long single occurrence may be the paragraph itself
            if counts[key] > 1:
                counts[key] -= 1
                continue
            if len(para) <= 100:
                continue
        kept.append(para)
    return "\n\n".join(kept) or None


#: How many times an entity-escaped articleBody is unescaped ("&amp;Ccedil;" is escaped twice).
_MAX_UNESCAPE = 2
_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)\b[^<>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_BLOCK_MARKUP = {"p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote",
                 "section", "figure", "figcaption", "tr", "table", "body"}


def _strip_markup(text: str) -> str:
    """Tags out of a text that carries HTML; block tags become paragraph breaks."""
    def replace(match: re.Match) -> str:
        return "\n\n" if match.group(2).lower() in _BLOCK_MARKUP else ""

    return _TAG.sub(replace, text)


def _collapse_doubled(text: str) -> str:
    """A text given twice in a row ("A B A B", some CMSs fill articleBody so) given once."""
    paragraphs = [p for p in (x.strip() for x in text.split("\n\n")) if p]
    half = len(paragraphs) // 2
    if len(paragraphs) % 2 == 0 and half and \
            [_key(p) for p in paragraphs[:half]] == [_key(p) for p in paragraphs[half:]]:
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
    """JSON-LD articleBody (judged by its text, see :func:`structured_body_text`) when it is
    much longer than the extracted text: the extraction then missed part of the article
    (precision mode dropping paragraphs)."""
    article_body = structured_body_text(article_body)
    if article_body and len(article_body) >= STRUCTURED_BODY_RATIO * len(text or "") \
            and len(article_body) > STRUCTURED_BODY_MIN_CHARS:
        return article_body
    return text
