"""Decode bytes and parse HTML once; every sub-extractor shares the resulting :class:`Page`.

Decoding prefers a strictly valid reading of the bytes: a BOM; then UTF-8 when the bytes are
valid UTF-8 (whatever legacy charset a page or server declares); then the declared charset when
the bytes are valid in it; then detection (charset-normalizer among the web's legacy encodings,
windows-1252 first on a tie, as browsers default to it). Bytes that no encoding reads without
replacement characters raise :class:`UndecodablePage` rather than becoming U+FFFD soup; bytes
that are not text at all (a PDF, a picture, binary garbage) raise :class:`NotText` whatever the
Content-Type said.

Parsing: libxml2 stops at 2,048 levels of nesting and drops what is deeper; such a page is parsed
again with its container tags removed (:data:`FLATTENED_TAGS`), or raises :class:`TooDeep`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from charset_normalizer import from_bytes
from lxml import etree
from lxml import html as lxml_html
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from newsarchive.extract.errors import ExtractionError
from newsarchive.items import FailureStage
from newsarchive.processors import host_of, registrable_name

logger = logging.getLogger(__name__)

#: Pages larger than this are truncated before parsing (characters).
MAX_CHARS = 12_000_000
#: Bytes looked at to tell text from binary data.
SNIFF_BYTES = 8192
#: Fewer bytes than this are too few to judge by their share of control bytes.
MIN_SNIFF_BYTES = 256
#: Share of control bytes (NUL, ESC...) in a sample above which it is not text.
MAX_CONTROL_RATIO = 0.05
#: UTF-8 with at most this share of broken sequences (among non-ASCII characters) is still UTF-8
#: (a stray byte in a real page); the broken ones become U+FFFD.
MAX_BROKEN_RATIO = 0.01
#: Fewer broken sequences than this are always tolerated.
MIN_BROKEN_TOLERATED = 3
#: Valid non-ASCII UTF-8 characters that make slightly broken UTF-8 win over a legacy label.
MIN_VALID_UTF8 = 20
#: UTF-16 without a BOM: at least this share of NULs on one side of the byte pairs...
UTF16_MIN_NULS = 0.1
#: ... and this many times more than on the other side.
UTF16_SIDEDNESS = 10
#: Legacy encodings pages use, in order of preference on a tie (windows-1252: browsers' default).
WEB_ENCODINGS = (
    "cp1252",
    "cp1251",
    "shift_jis",
    "cp932",
    "euc_jp",
    "iso2022_jp",
    "gb18030",
    "big5",
    "euc_kr",
    "cp1250",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "koi8_r",
    "koi8_u",
    "cp866",
    "iso8859_2",
    "iso8859_4",
    "iso8859_5",
    "iso8859_7",
    "iso8859_8",
    "iso8859_13",
    "iso8859_15",
)
#: Container tags removed when a page is nested deeper than the parser goes.
FLATTENED_TAGS = (
    "div",
    "span",
    "section",
    "main",
    "aside",
    "nav",
    "header",
    "footer",
    "font",
    "center",
    "table",
    "tbody",
    "thead",
    "tr",
    "td",
    "th",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "b",
    "i",
    "u",
    "em",
    "strong",
    "small",
    "big",
    "a",
    "blockquote",
    "article",
    "form",
    "label",
    "abbr",
)
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG picture"),
    (b"GIF8", "a GIF picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 file"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
    (b"wOFF", "a web font"),
)
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_BLOCKS = (
    (b"<script", b"</script>"),
    (b"<style", b"</style>"),
    (b"<svg", b"</svg>"),
    (b"<!--", b"-->"),
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: The same characters, each looked for with ``in``: on a page without any (nearly all), one
#: substring search each is three times quicker than the regex's scan.
_CONTROL_CHARS = tuple(chr(code) for code in range(0x20) if _CONTROL.match(chr(code)))
_FLATTEN = re.compile(r"</?(?:{})\b[^>]*>".format("|".join(FLATTENED_TAGS)), re.I)

# Same options as trafilatura's own parser, so the tree can be handed to it as is. Every element
# is an ``HtmlElement`` (text_content, drop_tree ...) chosen in C: lxml.html's own parser picks a
# class per tag in Python (form, input, label ...), which cost 7% of extraction and which nothing
# here uses.
_PARSER = etree.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True, huge_tree=True
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement,
        comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction,
        entity=lxml_html.HtmlEntity,
    )
)


class NotText(ExtractionError):
    """The bytes are not text (a PDF, a picture, binary data), whatever the Content-Type said."""

    stage: FailureStage = "content-type"


class UndecodablePage(ExtractionError):
    """No encoding reads the bytes without replacement characters: decoding would store U+FFFD soup."""

    stage: FailureStage = "decode"


class TooDeep(ExtractionError):
    """The markup is nested deeper than the parser goes, even with its container tags removed."""

    stage: FailureStage = "parse"


def decode(data: str | bytes, encoding: str | None = None) -> str:
    """Bytes to text: BOM; valid UTF-8; the caller's (or the page's <meta>) charset when the bytes
    are valid in it; detection. Raises :class:`NotText` or :class:`UndecodablePage`."""
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExtractionError(f"expected str or bytes, got {type(data).__name__}")
    data = bytes(data)
    bom_encoding, bom = read_bom(data)
    if bom_encoding and bom:
        return data[len(bom) :].decode(bom_encoding, "replace")
    if utf16 := _utf16_without_bom(data):
        return data.decode(utf16, "replace")
    if reason := binary_content(data):
        raise NotText(f"not text: {reason}")
    text = _strict(data, "utf-8")
    if text is not None:
        return text
    declared = _declared(data, encoding)
    lenient = data.decode("utf-8", "replace")
    if _few_broken(lenient) and (declared in (None, "utf-8") or _many_valid(lenient)):
        return lenient  # UTF-8 with a stray byte or two
    if declared and declared != "utf-8" and (text := _strict(data, declared)) is not None:
        return text
    if (detected := detect_encoding(data)) and (text := _strict(data, detected)) is not None:
        if declared:
            logger.debug(
                "declared charset %s does not read the page; detected %s", declared, detected
            )
        return text
    if _few_broken(lenient):
        return lenient
    raise UndecodablePage(
        f"undecodable: the bytes are not valid {declared or 'UTF-8'} "
        f"({lenient.count(chr(0xFFFD))} broken sequences) and no other encoding reads them"
    )


def binary_content(data: bytes) -> str | None:
    """What the bytes are when they are not text (magic number, or a share of control bytes)."""
    head = data[:SNIFF_BYTES]
    stripped = head.lstrip()
    for magic, what in _MAGIC:
        if stripped.startswith(magic):
            return what
    if len(head) >= MIN_SNIFF_BYTES and len(_CONTROL_BYTES.findall(head)) > MAX_CONTROL_RATIO * len(
        head
    ):
        return "binary data"
    return None


def detect_encoding(data: bytes) -> str | None:
    """The legacy web encoding that reads ``data`` best (least chaos, most coherent language,
    then :data:`WEB_ENCODINGS` order), or None."""
    best: tuple[float, float, int] | None = None
    choice = None
    for match in from_bytes(data, cp_isolation=list(WEB_ENCODINGS)):
        for name in match.could_be_from_charset:
            if name not in WEB_ENCODINGS:
                continue
            key = (round(match.chaos, 2), -round(match.coherence, 2), WEB_ENCODINGS.index(name))
            if best is None or key < best:
                best, choice = key, name
    return choice


def _declared(data: bytes, encoding: str | None) -> str | None:
    """The caller's charset (e.g. the HTTP header's), else the page's <meta>, as a Python codec."""
    for label in (encoding, html_body_declared_encoding(data[:SNIFF_BYTES])):
        if label and (name := resolve_encoding(label)):
            return "utf-8" if name.replace("_", "-") in ("utf-8", "utf8") else name
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _few_broken(text: str) -> bool:
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return broken < MIN_BROKEN_TOLERATED or broken <= MAX_BROKEN_RATIO * non_ascii


def _many_valid(text: str) -> bool:
    """Enough well-formed multi-byte UTF-8 characters to outweigh a legacy charset label."""
    return len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd") >= MIN_VALID_UTF8


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII markup leaves a NUL beside every ASCII character, always on
    the same side; confirmed by a strict decoding that reads as markup."""
    sample = data[: SNIFF_BYTES - SNIFF_BYTES % 2]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if max(even, odd) < UTF16_MIN_NULS * (len(sample) // 2) or min(
        even, odd
    ) * UTF16_SIDEDNESS > max(even, odd):
        return None
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    text = sample.decode(encoding, "replace")  # the sample may end inside a surrogate pair
    return encoding if text.count("\ufffd") <= 1 and "<" in text else None


def fit_page(data: bytes, *, max_bytes: int) -> tuple[bytes, str | None]:
    """A page of at most ``max_bytes`` to extract from, and what was cut (None if no text was).

    A page over the cap first loses what holds no text (scripts other than JSON-LD, styles,
    inline SVG, comments); if it is still over, it is cut at the last tag before the cap, and
    the note says how much of the page was read. Linear in the page's size, whatever it holds.
    """
    if max_bytes <= 0 or len(data) <= max_bytes:
        return data, None
    slim = _without_blocks(data)
    if len(slim) <= max_bytes:
        logger.debug(
            "page of %d bytes: %d once scripts, styles and SVG are removed", len(data), len(slim)
        )
        return slim, None
    end = slim.rfind(b"<", 0, max_bytes)
    cut = slim[: end if end > max_bytes // 2 else max_bytes]
    return cut, (
        f"page of {len(data)} bytes ({len(slim)} without scripts and styles): only the first "
        f"{len(cut)} bytes were extracted (NEWSARCHIVE_MAX_PAGE_BYTES); the text after them is not archived"
    )


def _without_blocks(data: bytes) -> bytes:
    """``data`` without the content of <script> (except JSON-LD), <style>, <svg> and comments."""
    lower = data.lower()
    parts, position = [], 0
    upcoming = {
        opening: lower.find(opening) for opening, _ in _BLOCKS
    }  # each searched once per pass
    while True:
        for opening, found in upcoming.items():
            if 0 <= found < position:
                upcoming[opening] = lower.find(opening, position)
        starts = [(found, opening) for opening, found in upcoming.items() if found >= 0]
        if not starts:
            break
        start, opening = min(starts)
        close = dict(_BLOCKS)[opening]
        end = lower.find(close, start)
        if end < 0:
            break  # unclosed: keep the rest as it is
        keep = close == b"</script>" and b"ld+json" in lower[start : lower.find(b">", start, end)]
        parts.append(data[position : end + len(close)] if keep else data[position:start])
        position = end + len(close)
    parts.append(data[position:])
    return b"".join(parts)


def parse(text: str) -> lxml_html.HtmlElement:
    """Parse text into an lxml HTML tree; ExtractionError if nothing is left, a flattened
    re-parse when the markup is nested deeper than libxml2 goes (:class:`TooDeep` if even that is)."""
    text = _XML_DECL.sub("", text[:MAX_CHARS], count=1)
    if any(char in text for char in _CONTROL_CHARS):
        text = _CONTROL.sub("", text)
    if not text or text.isspace():
        raise ExtractionError("empty document")
    tree = _parse_once(text)
    if _too_deep():
        logger.info(
            "markup nested deeper than the parser goes: parsing again without container tags"
        )
        tree = _parse_once(_FLATTEN.sub(" ", text))
        if _too_deep():
            raise TooDeep(
                "markup nested deeper than the parser goes (2,048 levels), even without container tags"
            )
    _unnest_void(tree)
    for el in tree.iter("amp-img"):  # AMP pages: <amp-img> is an <img>
        el.tag = "img"
    return tree


def _parse_once(text: str) -> lxml_html.HtmlElement:
    try:
        tree = lxml_html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError) as exc:
        raise ExtractionError(f"unparsable HTML: {exc}") from exc
    if tree is None:
        raise ExtractionError("empty document")
    return tree


def _too_deep() -> bool:
    """Whether the last parse stopped at libxml2's depth limit (and dropped what was deeper)."""
    return any(
        e.type_name == "ERR_RESOURCE_LIMIT" and "depth" in e.message for e in _PARSER.error_log
    )


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
    """The publishing platform whose rules apply (``extract/platforms``), or None."""

    # What several sub-extractors need is worked out once, on first use. A platform rule may
    # set ``body_container`` and ``article_root`` itself (an assignment replaces the value).

    @cached_property
    def host(self) -> str:
        """The page's host name, lower case, without "www." and port ("bbc.co.uk")."""
        return host_of(self.url, www=False)

    @cached_property
    def site_name(self) -> str:
        """The name in the page's registrable domain ("bbc" for www.bbc.co.uk)."""
        return registrable_name(self.url)

    @cached_property
    def body_container(self) -> lxml_html.HtmlElement | None:
        """The element holding most of the article's paragraphs (:mod:`.container`)."""
        from newsarchive.extract.container import find_body_container

        return find_body_container(self)

    @cached_property
    def body_containers(self) -> list[lxml_html.HtmlElement]:
        """The body container and its peers (the article cut into several blocks), in page order."""
        from newsarchive.extract.container import find_body_containers

        return find_body_containers(self)

    @cached_property
    def article_root(self) -> lxml_html.HtmlElement | None:
        """The smallest element holding both the headline and the body container."""
        from newsarchive.extract.container import find_article_root

        return find_article_root(self)

    @cached_property
    def h1(self) -> str | None:
        """The first <h1> of the article, else of the page (:func:`.metadata.first_h1`)."""
        from newsarchive.extract.metadata import first_h1

        return first_h1(self)

    @cached_property
    def headline_article(self) -> lxml_html.HtmlElement | None:
        """Among several <article> stories on the page, the one whose <h1> is the headline."""
        from newsarchive.extract.container import find_headline_article

        return find_headline_article(self)

    @cached_property
    def sites(self) -> set[str]:
        """Registrable domains and publisher names the page belongs to (:mod:`.images`)."""
        from newsarchive.extract.images import find_page_sites

        return find_page_sites(self)

    @cached_property
    def site_names(self) -> set[str]:
        """The site's names, folded: og:site_name, publisher, host (:mod:`.metadata`)."""
        from newsarchive.extract.metadata import find_site_names

        return find_site_names(self)

    @cached_property
    def squashed_site_names(self) -> set[str]:
        """:attr:`site_names` folded to letters and digits, as written and transliterated."""
        from newsarchive.extract.metadata import squash_all

        return squash_all(self.site_names)

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
