"""Title, description, dates, section, tags and canonical URL from structured data and markup."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from newsarchive.extract.container import article_root
from newsarchive.extract.document import Page
from newsarchive.extract.structured import as_list, microdata, text_of
from newsarchive.processors import clean_line

_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|•|»|/|\*)\s+")
#: A title segment that is a byline ("Headline | Site | by Jane Doe").
_BYLINE_SEGMENT = re.compile(r"^by\s+\w", re.IGNORECASE)


def fold(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\xa0": " "}))
    return re.sub(r"\s+", " ", text).strip().casefold()


def _site_names(page: Page) -> set[str]:
    names = {fold(n) for n in page.meta_all("og:site_name", "application-name", "apple-mobile-web-app-title", "twitter:site") if n}
    publisher = page.main.get("publisher") if page.main else None
    if publisher:
        name = text_of(publisher)
        if name:
            names.add(fold(name))
    host = page.host.split(".")
    if host:
        names.add(fold(host[0]))
        if len(host) > 1:
            names.add(fold(host[-2]))
    return {n.lstrip("@") for n in names if n}


def strip_site(title: str | None, page: Page) -> str | None:
    """Remove a " | Site name" suffix (or "Site name: " prefix)."""
    title = clean_line(title)
    if not title:
        return None
    names = _site_names(page)
    squashed = {re.sub(r"[^\w]", "", n) for n in names}
    parts = _SEPARATORS.split(title)
    stripped = False
    while len(parts) > 1:
        last = fold(parts[-1])
        if _BYLINE_SEGMENT.match(last) and len(last.split()) <= 5:
            title = title[: title.rfind(parts[-1])].rstrip(" |-–—:·•»/*")
            parts = parts[:-1]
            continue
        if last in names or re.sub(r"[^\w]", "", last) in squashed or any(n and n in re.sub(r"[^\w]", "", last) for n in squashed if len(n) > 3):
            title = title[: title.rfind(parts[-1])].rstrip(" |-–—:·•»/*")
            parts = parts[:-1]
            stripped = True
            continue
        if stripped and " | " in title and len(parts[-1].split()) <= 3:  # "Headline | Section | Site"
            title = title[: title.rfind(" | ")].rstrip()
            parts = parts[:-1]
            continue
        first = fold(parts[0])
        if first in names or re.sub(r"[^\w]", "", first) in squashed:
            title = title[len(parts[0]):].lstrip(" |-–—:·•»/")
            parts = parts[1:]
            continue
        break
    return title or None


def _h1(page: Page) -> str | None:
    root = article_root(page)
    for scope in ([root] if root is not None else []) + [page.tree]:
        for h in scope.iter("h1"):
            text = clean_line(h.text_content())
            if text and len(text) > 1:
                page.cache["h1"] = text
                return text
    return None


def extract_title(page: Page) -> str | None:
    """The headline: og:title (editors write it for sharing and it rarely carries the site
    name), else the JSON-LD headline, else twitter:title, <h1>, <title>; site suffixes removed."""
    headline = clean_line(text_of(page.main.get("headline")) if page.main else None)
    for value in (page.meta_first("og:title"), headline, page.meta_first("twitter:title")):
        title = strip_site(value, page)
        if title:
            return title
    h1 = _h1(page)
    if h1:
        return h1
    title_tag = page.tree.find(".//title")
    return strip_site(title_tag.text_content() if title_tag is not None else None, page)


def extract_description(page: Page) -> str | None:
    return (page.meta_first("og:description", "description", "twitter:description")
            or (text_of(page.main.get("description")) if page.main else None))


_PUBLISHED_META = ("article:published_time", "og:article:published_time", "published_time", "datepublished",
                   "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.created", "dc.date",
                   "publish-date", "publishdate", "pubdate", "date", "article.published", "cxenseparse:recs:publishtime",
                   "article_date_original", "og:updated_time")
_MODIFIED_META = ("article:modified_time", "og:article:modified_time", "datemodified", "dcterms.modified",
                  "last-modified", "og:updated_time", "article.updated")


def extract_dates(page: Page) -> tuple[str | None, str | None]:
    """(published_raw, modified_raw), as the page prints them."""
    published = text_of(page.main.get("datePublished")) if page.main else None
    published = published or page.meta_first(*_PUBLISHED_META) or microdata(page.tree, "datePublished")
    if not published:
        root = article_root(page)
        for t in (root if root is not None else page.tree).iter("time"):
            if t.get("datetime"):
                published = t.get("datetime")
                break
    if not published:
        published = _htmldate(page, original=True)
    modified = text_of(page.main.get("dateModified")) if page.main else None
    modified = modified or page.meta_first(*_MODIFIED_META) or microdata(page.tree, "dateModified")
    return published, modified


def _htmldate(page: Page, *, original: bool) -> str | None:
    try:
        from htmldate import find_date

        return find_date(page.tree, url=page.url, original_date=original, extensive_search=False, outputformat="%Y-%m-%d")
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
