"""Title, description, dates, section, tags and canonical URL from structured data and markup."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from urllib.parse import urlsplit

from newsarchive.extract.document import Page
from newsarchive.extract.structured import as_list, microdata, plain_text, text_of
from newsarchive.processors import clean_line

#: Separators between a headline and a site name, section or date. Spaced ASCII ones
#: (" | ", " - ", " » "…), and the fullwidth / Korean bars and the fullwidth colon that
#: CJK titles print without spaces ("見出し｜サイト", "見出し：新聞Web", "제목ㅣ사이트").
_SEPARATORS = re.compile(
    r"(\s+(?:\||-|–|—|::|·|•|»|«|›|‹|~|/|\*)\s+|\s*[｜︱│ㅣ：]\s*|(?<=\S)[|_](?=\S))"
)
#: Separators after which a short segment is a section name once a site name was removed
#: ("Headline | Politics | Site", "Headline - National | Site"); never the CJK ones.
_SPACED = re.compile(r"^\s+\S+\s+$")
#: A title segment that is a byline ("Headline | Site | by Jane Doe").
_BYLINE_SEGMENT = re.compile(r"^by\s+\w", re.IGNORECASE)
#: A title segment that is a date ("Headline | DW | 28.04.2023", "Headline - 2024-05-01").
_DATE_SEGMENT = re.compile(
    r"^(?:\d{1,2}[./]\s?\d{1,2}[./]\s?\d{2,4}|\d{4}-\d{2}-\d{2}|\d{4}/\d{1,2}/\d{1,2})$"
)
#: At most this many words make a section segment ("Politics News", "National").
SECTION_MAX_WORDS = 3
#: A segment that starts with the site's host name (transliterated names, "Tokyo Shimbun"
#: for tokyo-np.co.jp) is the site when the host name has at least this many letters.
HOST_PREFIX_MIN = 5


#: Quotes, dashes and no-break spaces as their plain ASCII forms.
_PLAIN = str.maketrans("’‘“”–—\xa0", "''\"\"-- ")


def fold(text: str | None) -> str:
    """``text`` compared loosely: NFKC, plain quotes and dashes, spaces collapsed, case folded."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_PLAIN)
    return re.sub(r"\s+", " ", text).strip().casefold()


#: Letters that Unicode does not decompose into a base letter and a mark.
_LATIN = str.maketrans(
    {"ı": "i", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "þ": "th", "ð": "d"}
)
#: The German spelling of umlauts in host names ("sueddeutsche" for Süddeutsche).
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def _ascii(text: str) -> str:
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text.translate(_LATIN))
        if not unicodedata.combining(c)
    )


def _squash(text: str) -> set[str]:
    """A name folded to letters and digits, as written and transliterated ("Hürriyet" →
    hürriyet, hurriyet, huerriyet), so a title's site name matches its host or og:site_name."""
    base = re.sub(r"[\W_]", "", fold(text))
    return {base, _ascii(base), _ascii(base.translate(_GERMAN))} - {""}


def find_site_names(page: Page) -> set[str]:
    """The site's names, folded (``Page.site_names``): og:site_name, app names, twitter handle,
    publisher, host."""
    names = {
        fold(n)
        for n in page.meta_all(
            "og:site_name",
            "application-name",
            "apple-mobile-web-app-title",
            "twitter:site",
            "publisher",
        )
        if n
    }
    publisher = page.main.get("publisher") if page.main else None
    if publisher:
        name = text_of(publisher)
        if name:
            names.add(fold(name))
    host = page.host.split(".")
    if host and host[0]:
        names.add(fold(host[0]))
        names.add(fold(page.site_name))
    return {n.lstrip("@") for n in names if n}


def squash_all(names: set[str]) -> set[str]:
    """Every name of ``names`` squashed (:func:`_squash`), in one set."""
    return set().union(*(_squash(n) for n in names))


def is_site_name(text: str, page: Page, *, tail: bool = False) -> bool:
    """Whether ``text`` names the site itself (not a person or a section). A ``tail`` segment of
    a title may also hold the name among other words ("Politics News | Metro News") or spell it
    out from the host ("Tokyo Shimbun" on tokyo-np); elsewhere the name must be all of it."""
    folded = fold(text)
    if not folded:
        return False
    forms, names = _squash(text), page.squashed_site_names
    if folded in page.site_names or forms & names:
        return True
    if not tail:
        return False
    if any(n in form for n in names if len(n) > 3 for form in forms):
        return True
    stem = _ascii(re.sub(r"[\W_]", "", page.site_name.split("-")[0]))
    return (
        len(stem) >= HOST_PREFIX_MIN
        and len(folded.split()) <= SECTION_MAX_WORDS + 1
        and any(form.startswith(stem) for form in forms)
    )


def _is_section(segment: str) -> bool:
    """A section name: a few capitalised words ("National", "Politics News"), not the end of a
    headline ("- again", "- live updates")."""
    words = segment.split()
    return 0 < len(words) <= SECTION_MAX_WORDS and all(not w[0].islower() for w in words)


def strip_site(title: str | None, page: Page) -> str | None:
    """Remove " | Site name" suffixes (with a date, a byline or a section before or after them)
    and a "Site name: " prefix."""
    title = clean_line(title)
    if not title:
        return None
    parts = _SEPARATORS.split(title)  # [segment, separator, segment, …]
    stripped = False
    while len(parts) > 1:
        last = parts[-1]
        if (_BYLINE_SEGMENT.match(last) and len(last.split()) <= 5) or _DATE_SEGMENT.match(last):
            del parts[-2:]
        elif is_site_name(last, page, tail=True):
            del parts[-2:]
            stripped = True
        elif stripped and _SPACED.match(parts[-2]) and _is_section(last):
            del parts[-2:]  # "Headline | Section | Site"
        elif is_site_name(parts[0], page):
            del parts[:2]
        else:
            break
    return "".join(parts).strip() or title


def first_h1(page: Page) -> str | None:
    """The first <h1> of the article (else of the page) with more than one character; read
    it as ``Page.h1``, worked out once."""
    root = page.article_root
    for scope in ([root] if root is not None else []) + [page.tree]:
        for h in scope.iter("h1"):
            text = clean_line(h.text_content())
            if text and len(text) > 1:
                return text
    return None


#: What ends a topic prefix of a social title ("Vierschanzentournee | ", "Infant Abandonment Cases: ").
_TOPIC_END = re.compile(r"(?:\s[|/–—-]|[:|｜：])\s*$")


def _without_topic(title: str, headline: str | None, h1: str | None) -> str:
    """og:title minus an SEO topic prefix, when the JSON-LD headline and the printed <h1> agree
    on the headline without it ("Topic | Headline" / "Topic: Headline" → "Headline")."""
    if not headline or not h1 or fold(headline) != fold(h1):
        return title
    folded, tail = fold(title), fold(headline)
    if (
        len(folded) > len(tail)
        and folded.endswith(tail)
        and _TOPIC_END.search(folded[: -len(tail)])
    ):
        return headline
    return title


def extract_title(page: Page) -> str | None:
    """The headline: og:title (editors write it for sharing and it rarely carries the site
    name), else the JSON-LD headline, else twitter:title, <h1>, <title>; site suffixes and
    topic prefixes removed."""
    headline = strip_site(
        clean_line(plain_text(page.main.get("headline")) if page.main else None), page
    )
    og = strip_site(page.meta_first("og:title"), page)
    if og:
        return _without_topic(og, headline, page.h1)
    for value in (headline, strip_site(page.meta_first("twitter:title"), page)):
        if value:
            return value
    if page.h1:
        return page.h1
    title_tag = page.tree.find(".//title")
    return strip_site(title_tag.text_content() if title_tag is not None else None, page)


def extract_description(page: Page) -> str | None:
    return page.meta_first("og:description", "description", "twitter:description") or (
        text_of(page.main.get("description")) if page.main else None
    )


_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "published_time",
    "datepublished",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "publish-date",
    "publishdate",
    "pubdate",
    "date",
    "article.published",
    "cxenseparse:recs:publishtime",
    "article_date_original",
    "og:updated_time",
)
_MODIFIED_META = (
    "article:modified_time",
    "og:article:modified_time",
    "datemodified",
    "dcterms.modified",
    "last-modified",
    "og:updated_time",
    "article.updated",
)


def extract_dates(page: Page) -> tuple[str | None, str | None]:
    """(published_raw, modified_raw), as the page prints them."""
    published = text_of(page.main.get("datePublished")) if page.main else None
    published = (
        published or page.meta_first(*_PUBLISHED_META) or microdata(page.tree, "datePublished")
    )
    if not published:
        root = page.article_root
        for t in (root if root is not None else page.tree).iter("time"):
            if t.get("datetime"):
                published = t.get("datetime")
                break
    if not published:
        published = _printed_date(page) or _htmldate(page, original=True)
    modified = text_of(page.main.get("dateModified")) if page.main else None
    modified = modified or page.meta_first(*_MODIFIED_META) or microdata(page.tree, "dateModified")
    return published, modified


#: A date printed day first with dots ("28.04.2023", "5. 8. 2024") or in ISO order ("2023-04-28").
_PRINTED_DATE = re.compile(
    r"^\s*(?:(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})|(\d{4})-(\d{2})-(\d{2}))(?![\d.])"
)
#: Labels of an article's date line, in the dev sets' languages and their neighbours.
_DATE_LABEL = re.compile(
    r"^\s*(?:date|datum|dato|data|fecha|tarih|published|publication date|veröffentlicht|publié(?: le)?|"
    r"publicado(?: el| em)?|pubblicato(?: il)?|publicerad|julkaistu|päivämäärä|日付|公開日|配信日|입력|발행일)\s*:?\s*",
    re.IGNORECASE,
)


def _printed_date(page: Page) -> str | None:
    """A date printed after a date label in the article ("<strong>Datum</strong> 28.04.2023",
    "Published: 2023-04-28"), as YYYY-MM-DD; links (teasers) are left out."""
    root = page.article_root
    if root is None:
        return None
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in ("a", "script", "style") or _in_link(el):
            continue
        label = _DATE_LABEL.match(el.text or "")
        if not label:
            continue
        text = next((t for t in labelled_texts(el, label.end()) if t.strip()), "")
        match = _PRINTED_DATE.match(text)
        if match:
            return _iso_day(match)
    return None


def labelled_texts(el, label_end: int) -> list[str]:
    """The texts that may follow a label printed in ``el``: the rest of its text, its first
    child's text, its tail, the next element's text ("<dt>Datum</dt><dd>28.04.2023</dd>")."""
    following = el.getnext()
    return [
        (el.text or "")[label_end:],
        *(child.text or "" for child in el[:1]),
        el.tail or "",
        following.text or "" if following is not None and isinstance(following.tag, str) else "",
    ]


def _in_link(el) -> bool:
    return any(a.tag == "a" for a in el.iterancestors())


def _iso_day(match: re.Match[str]) -> str | None:
    day, month, year = (
        (match.group(1), match.group(2), match.group(3))
        if match.group(1)
        else (match.group(6), match.group(5), match.group(4))
    )
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _htmldate(page: Page, *, original: bool) -> str | None:
    try:
        from htmldate import find_date

        return find_date(
            page.tree,
            url=page.url,
            original_date=original,
            extensive_search=False,
            outputformat="%Y-%m-%d",
        )
    except Exception:  # htmldate is a best-effort fallback; any failure means "no date"
        return None


def extract_section(page: Page) -> str | None:
    section = text_of(page.main.get("articleSection")) if page.main else None
    return section or page.meta_first("article:section", "section", "parsely-section", "category")


def extract_tags(page: Page) -> list[str]:
    tags: list[str] = list(page.meta_all("article:tag"))
    keywords = page.main.get("keywords") if page.main else None
    for value in as_list(keywords):
        if isinstance(value, str):
            tags.extend(value.split(","))
    if not tags:
        for value in page.meta_all("news_keywords", "keywords", "parsely-tags"):
            tags.extend(value.split(","))
    return [t.strip() for t in tags if t and t.strip() and len(t.strip()) < 80]


def extract_canonical(page: Page) -> str | None:
    for link in page.tree.iter("link"):
        if (link.get("rel") or "").strip().lower() == "canonical" and link.get("href"):
            return link.get("href").strip()
    url = page.meta_first("og:url") or (text_of(page.main.get("url")) if page.main else None)
    if url and urlsplit(url).scheme in ("http", "https", ""):
        return url
    return None
