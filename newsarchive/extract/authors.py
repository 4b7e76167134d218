"""Author names: from JSON-LD, meta tags and bylines, cleaned into people's names."""
from __future__ import annotations

import re
from typing import Any

from newsarchive.extract.document import Page
from newsarchive.extract.structured import as_list, node_by_id
from newsarchive.processors import clean_line

_BY = re.compile(r"^\s*(?:(?:written|words|reporting|reported|story|text|posted|published|compiled)\s+)?by[:\s]+", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_SPLIT = re.compile(r"\s*(?:,|;|\||\band\b|&|\bund\b|\bet\b|\by\b|\be\b)\s*", re.I)
_ROLE = re.compile(
    r"\b(reporter|editor|correspondent|writer|contributor|columnist|producer|journalist|senior|chief|"
    r"staff|intern|director|analyst|photographer|updated|published|follow|twitter|email|contact|"
    r"bureau|news desk|newsdesk|deputy|head of|host|presenter|author|freelance)\b",
    re.I,
)
_NOISE = re.compile(r"\b(?:updated|published|posted|on)\b.*\d.*$", re.I)


def clean_author(raw: str | None) -> list[str]:
    """One byline string → the names it holds ("By A and B, Reporter" → ["A", "B"])."""
    text = clean_line(raw)
    if not text:
        return []
    if text.lower().startswith(("http://", "https://", "www.")) or "/" in text and " " not in text:
        return []
    text = _EMAIL.sub("", text)
    text = _BY.sub("", text)
    text = _NOISE.sub("", text).strip(" ,;:-–—|")
    text = re.sub(r"\s*\|.*$", "", text)
    parts = [p.strip(" .,;:-–—'\"") for p in _SPLIT.split(text) if p and p.strip(" .,;:-–—'\"")]
    if len(parts) > 1:
        kept = [p for p in parts if not _ROLE.search(p)]
        parts = kept or parts[:1]
    names = []
    for part in parts:
        part = _BY.sub("", part).strip()
        if not part or len(part) > 60 or len(part.split()) > 6 or not re.search(r"[^\W\d_]", part):
            continue
        if part.lower() in ("staff", "admin", "editor", "null", "none", "unknown", "author"):
            continue
        names.append(part)
    return names


def _names_from_jsonld(page: Page, value: Any) -> list[str]:
    names: list[str] = []
    for item in as_list(value):
        item = node_by_id(page.jsonld, item)
        if isinstance(item, str):
            names.extend(clean_author(item))
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, list):
                for n in name:
                    names.extend(clean_author(n if isinstance(n, str) else None))
            elif isinstance(name, str):
                names.extend(clean_author(name))
            elif item.get("givenName") or item.get("familyName"):
                names.extend(clean_author(f"{item.get('givenName', '')} {item.get('familyName', '')}"))
    return names


_BYLINE_XPATH = (
    '//*[@rel="author"]'
    ' | //*[@itemprop="author"]//*[@itemprop="name"]'
    ' | //*[contains(concat(" ", normalize-space(@class), " "), " byline__name ")]'
    ' | //*[contains(concat(" ", normalize-space(@class), " "), " author-name ")]'
)


def extract_authors(page: Page) -> list[str]:
    """Authors in byline order, from the best source available."""
    names = _names_from_jsonld(page, page.main.get("author")) if page.main else []
    if not names and page.main:
        names = _names_from_jsonld(page, page.main.get("creator"))
    if not names:
        for value in page.meta_all("author", "article:author", "parsely-author", "sailthru.author", "dc.creator",
                                   "byl", "twitter:creator"):
            if value.startswith("@"):
                continue
            names.extend(clean_author(value))
            if names:
                break
    if not names:
        for el in page.tree.xpath(_BYLINE_XPATH)[:6]:
            names.extend(clean_author(el.text_content()))
    seen, out = set(), []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out
