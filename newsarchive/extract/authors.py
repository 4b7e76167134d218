"""Author names: from JSON-LD, meta tags and bylines, cleaned into people's names.

Structured data often names the publisher as the author ("Deutsche Welle", an Organization
node); a person's byline printed in the article then wins, and the organisation is kept only
when it is the only author the page gives.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from newsarchive.extract.document import Page
from newsarchive.extract.metadata import is_site_name, labelled_texts
from newsarchive.extract.structured import as_list, node_by_id, plain_text, types_of
from newsarchive.processors import clean_line

logger = logging.getLogger(__name__)

#: "By" in the languages of the dev sets and their neighbours; Italian "di" only in lower case
#: (Di Maio is a name), "Autorin/Autor:"-style labels too.
_BY = re.compile(
    r"^\s*(?:(?i:(?:(?:written|words|reporting|reported|story|text|posted|published|compiled)\s+)?by)[:\s]+"
    r"|(?i:von|af|av|par|por|door|przez|yazan|tekst|texte|texto|text)[:\s]+|di\s+"
    r"|(?i:autor(?:in)?(?:\s*/\s*autor(?:in)?)?|authors?|auteur(?:e|s)?|autore|autores|forfatter|författare|yazar)"
    r"(?:\s*:\s*|\s+))"
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
#: Separators between names: punctuation and "and" in many languages (German, French, Spanish,
#: Portuguese/Italian, Nordic, Swedish, Turkish, Dutch/Afrikaans, Swahili).
#: "and"/"und" in any case (all-caps bylines); the others only in lower case, so initials
#: ("Sarah E. Needleman", "Y. Chen") and capitalised name parts stay whole.
_SPLIT = re.compile(r"\s*(?:,|;|\||&|\b(?i:and|und)\b|\b(?:et|y|e|og|och|ve|en|na)\b(?!\.))\s*")
#: A date or a time after a byline ("NOVEMBER 20", "20. November", "7 hours"): not a name.
_DATE_LIKE = re.compile(
    r"^\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mär|mai|okt|dez|janv|févr|avr|juil|déc|ene|abr|ago|dic)"
    r"[a-zé]*\.?\s+\d",
    re.I,
)
#: Degrees and credentials printed after a name ("Ilana Muhlstein, MS, RDN"): not authors.
_CREDENTIALS = {
    "md",
    "phd",
    "ms",
    "msc",
    "ma",
    "ba",
    "bsc",
    "rd",
    "rdn",
    "rn",
    "mph",
    "mba",
    "dds",
    "cpa",
    "esq",
    "cfa",
    "lcsw",
    "np",
    "dvm",
    "edd",
    "dr",
    "prof",
    "frcp",
    "mbbs",
    "ld",
    "cdn",
    "cscs",
}
#: Generational suffixes that belong to the name before them ("John Smith, Jr.").
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
#: Initials or a short code in parentheses after a name ("Jane Doe (jd)", "Max Muster (mm/dpa)").
_INITIALS = re.compile(r"\s*\((?:[^\W\d_]{1,4}\.?)(?:\s*/\s*[^\W\d_]{1,5})*\)")
#: A string that is a link or a path, not a name ("/author/jane-doe", "www.x.com").
_PATHLIKE = re.compile(r"^(?:https?://|www\.|/)|^[\w.-]+(?:/[\w.-]+){2,}$", re.I)
_ROLE = re.compile(
    r"\b(reporter|editor|correspondent|writer|contributor|columnist|producer|journalist|senior|chief|"
    r"staff|intern|director|analyst|photographer|updated|published|follow|twitter|email|contact|"
    r"bureau|news desk|newsdesk|deputy|head of|host|presenter|author|freelance)\b",
    re.I,
)
_NOISE = re.compile(r"\b(?:updated|published|posted|on)\b.*\d.*$", re.I)
_PLACEHOLDERS = ("staff", "admin", "editor", "null", "none", "unknown", "author")
#: A person's name has at least this many words ("Jane Doe") ...
NAME_MIN_WORDS = 2
#: At most this many characters / words make a name.
NAME_MAX_CHARS = 60
NAME_MAX_WORDS = 6
#: At most this many byline elements are read from the markup.
BYLINE_MAX_ELEMENTS = 6
ORGANIZATION_TYPES = {"organization", "newsmediaorganization", "corporation", "onlinebusiness"}


def clean_author(raw: str | None) -> list[str]:
    """One byline string → the names it holds ("By A and B, Reporter" → ["A", "B"])."""
    text = clean_line(raw)
    if not text or _PATHLIKE.match(text):
        return []
    text = _EMAIL.sub("", text)
    text = _INITIALS.sub("", text)
    text = _BY.sub("", text)
    text = _NOISE.sub("", text).strip(" ,;:-–—|")
    text = re.sub(r"\s*\|.*$", "", text)
    parts = [p.strip(" .,;:-–—'\"") for p in _SPLIT.split(text) if p and p.strip(" .,;:-–—'\"")]
    parts = [p for p in parts if not _DATE_LIKE.search(p)]
    if len(parts) > 1:
        kept = [p for p in parts if not _ROLE.search(p)]
        parts = kept or parts[:1]
    names: list[str] = []
    for part in parts:
        part = _BY.sub("", part).strip()
        key = part.lower().strip(".")
        if key in _SUFFIXES and names:
            names[-1] = f"{names[-1]} {part}"
            continue
        if (
            not part
            or len(part) > NAME_MAX_CHARS
            or len(part.split()) > NAME_MAX_WORDS
            or not re.search(r"[^\W\d_]", part)
            or _PATHLIKE.match(part)
        ):
            continue
        if key in _PLACEHOLDERS or key.replace(".", "") in _CREDENTIALS:
            continue
        names.append(part)
    return names


def _names_from_jsonld(page: Page, value: Any) -> list[tuple[str, bool]]:
    """(name, is_organisation) for each author of a JSON-LD author/creator value."""
    names: list[tuple[str, bool]] = []
    for item in as_list(value):
        item = node_by_id(page.jsonld, item)
        if isinstance(item, str):
            names.extend((n, is_site_name(n, page)) for n in clean_author(item))
        elif isinstance(item, dict):
            types = types_of(item)
            organisation = bool(types & ORGANIZATION_TYPES) and "person" not in types
            person = "person" in types or "/person/" in str(item.get("@id") or "")
            name = item.get("name")
            if isinstance(name, list):
                raw = [plain_text(n) for n in name if isinstance(n, str)]
            elif isinstance(name, str):
                raw = [plain_text(name)]
            elif item.get("givenName") or item.get("familyName"):
                raw = [f"{item.get('givenName', '')} {item.get('familyName', '')}"]
            else:
                raw = []
            for text in raw:
                names.extend(
                    (n, organisation or (not person and is_site_name(n, page)))
                    for n in clean_author(text)
                )
    return names


def _names_from_meta(page: Page) -> list[tuple[str, bool]]:
    for value in page.meta_all(
        "author",
        "article:author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
        "byl",
        "twitter:creator",
    ):
        if value.startswith("@"):
            continue
        names = clean_author(value)
        if names:
            return [(n, is_site_name(n, page)) for n in names]
    return []


#: Path segments of links to an author's page.
_AUTHOR_PATHS = (
    "/author/",
    "/authors/",
    "/autor/",
    "/autoren/",
    "/auteur/",
    "/autore/",
    "/autores/",
    "/journalist/",
)
#: Class names of an author's name, of a byline or author block.
_NAME_CLASSES = ("byline__name", "author-name", "author__name")
_BYLINE_CLASSES = ("author", "byline")
#: Byline kinds, most specific first: rel=author, microdata author names, a microdata author
#: without a name inside, name classes, innermost byline/author classes, links to an author page.
REL, MICRODATA_NAME, MICRODATA, NAME_CLASS, BYLINE_CLASS, AUTHOR_LINK = range(6)
#: Kinds read only inside the article: elsewhere on the page they name teasers' writers.
_ARTICLE_ONLY = (BYLINE_CLASS, AUTHOR_LINK)
#: Kinds whose text is a name as written (no person-like check).
_AS_WRITTEN = (REL, MICRODATA_NAME, MICRODATA)


def _byline_elements(scope) -> list[list[Any]]:
    """The byline elements of ``scope`` by kind, in one pass over it."""
    kinds: list[list[Any]] = [[] for _ in range(AUTHOR_LINK + 1)]
    for el in scope.iter():
        if not isinstance(el.tag, str):
            continue
        attrib = el.attrib
        if (attrib.get("rel") or "").strip().lower() == "author":
            kinds[REL].append(el)
        if attrib.get("itemprop") == "author":
            names = el.xpath('.//*[@itemprop="name"]')
            kinds[MICRODATA_NAME].extend(names) if names else kinds[MICRODATA].append(el)
        classes = (attrib.get("class") or "").lower()
        if classes and any(c in classes for c in _NAME_CLASSES):
            kinds[NAME_CLASS].append(el)
        if (
            classes
            and el.tag not in ("img", "figure")
            and any(c in classes for c in _BYLINE_CLASSES)
        ):
            kinds[BYLINE_CLASS].append(el)
        if el.tag == "a" and any(p in (attrib.get("href") or "") for p in _AUTHOR_PATHS):
            kinds[AUTHOR_LINK].append(el)
    blocks = kinds[BYLINE_CLASS]  # the innermost only: a block's first match after it is inside it
    kinds[BYLINE_CLASS] = [
        el
        for i, el in enumerate(blocks)
        if i + 1 == len(blocks) or not any(a is el for a in blocks[i + 1].iterancestors())
    ]
    return kinds


def looks_like_person(name: str) -> bool:
    """Two to six words, no digits, the first and the last capitalised (or uncased, as in CJK):
    "Dr. Max Kolter", "Seb Dumitru", "Ursula von der Leyen"; not "7 hours", "red", "Von"."""
    words = name.split()
    if (
        not NAME_MIN_WORDS <= len(words) <= NAME_MAX_WORDS
        or any(c.isdigit() for c in name)
        or ":" in name
    ):
        return False
    return all(not w[0].islower() and w[0].isalpha() for w in (words[0], words[-1]))


def _headline_block(page: Page):
    """The element around the page's first <h1> (a header or hero block that the article body
    does not hold), or None when the <h1> sits directly in the page body."""
    h1 = next(page.tree.iter("h1"), None)
    block = h1.getparent() if h1 is not None else None
    return block if block is not None and block.tag not in ("body", "html") else None


def _names_from_markup(page: Page) -> list[str]:
    """People named by the article's byline markup (inside the article when it is known).
    Microdata authors are taken as written; class- and link-found bylines only when their first
    name looks like a person's."""
    article = [el for el in (page.article_root, _headline_block(page)) if el is not None]
    for scope in [*article, page.tree]:
        for kind, elements in enumerate(_byline_elements(scope)):
            if scope is page.tree and kind in _ARTICLE_ONLY:
                continue
            names: list[str] = []
            for el in elements[:BYLINE_MAX_ELEMENTS]:
                found = [n for n in clean_author(el.text_content()) if not is_site_name(n, page)]
                if found and (kind in _AS_WRITTEN or looks_like_person(found[0])):
                    names.extend(found)
            if names:
                return names
    return []


#: An author label printed before the name ("<strong>Autorin/Autor</strong> Roman Goncharenko").
_AUTHOR_LABEL = re.compile(
    r"^\s*(?:autor(?:in)?(?:\s*/\s*autor(?:in)?)?|autoren|authors?|written by|auteur(?:e|s)?|autore|autores|"
    r"forfatter|författare|yazar|tekst|texte|texto|text)\s*:?\s*$",
    re.IGNORECASE,
)
#: Elements that hold a label: small inline or term elements.
_LABEL_TAGS = ("strong", "b", "dt", "th", "span", "label", "em")


def _names_after_label(page: Page) -> list[str]:
    """A person's name printed after an author label in the article."""
    root = page.article_root
    if root is None:
        return []
    for el in root.iter(*_LABEL_TAGS):
        if not _AUTHOR_LABEL.match(el.text or "") or len(el):
            continue
        text = next((t for t in labelled_texts(el, len(el.text or "")) if t.strip()), "")
        names = [n for n in clean_author(text) if not is_site_name(n, page)]
        if names and looks_like_person(names[0]):
            return names
    return []


def extract_authors(page: Page) -> list[str]:
    """Authors in byline order, from the best source available: structured data and meta tags
    for people, else the byline markup, else the organisation structured data names."""
    found = _names_from_jsonld(page, page.main.get("author")) if page.main else []
    if not found and page.main:
        found = _names_from_jsonld(page, page.main.get("creator"))
    if not found:
        found = _names_from_meta(page)
    names = [name for name, _ in found]
    if all(organisation for _, organisation in found):
        people = _names_from_markup(page) or _names_after_label(page)
        if people:
            logger.debug("byline %s preferred over %s", people, names)
            names = people
    seen, out = set(), []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out
