"""Language: the page's declaration, else detection on the text (py3langid)."""

from __future__ import annotations

import re

from newsarchive.extract.document import Page
from newsarchive.extract.structured import text_of

_CODE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|\d{3}|[a-zA-Z]{4}))?$")


def normalise_code(value: str | None) -> str | None:
    """ "en_US" → "en-US", "EN" → "en"; None if it is not a language tag."""
    if not value:
        return None
    value = value.strip().split(",")[0].strip()
    m = _CODE.match(value)
    if not m:
        return None
    lang, region = m.group(1).lower(), m.group(2)
    if region:
        region = region.upper() if len(region) == 2 else region.title()
        return f"{lang}-{region}"
    return lang


def declared_language(page: Page) -> str | None:
    candidates = [
        page.tree.get("lang"),
        page.tree.get("xml:lang"),
        text_of(page.main.get("inLanguage")) if page.main else None,
        page.meta_first("content-language", "og:locale", "language", "dc.language"),
    ]
    for value in candidates:
        code = normalise_code(value)
        if code:
            return code
    return None


def detect_language(text: str | None) -> str | None:
    if not text or len(text) < 20:
        return None
    import py3langid  # loads its model on first use

    lang, _ = py3langid.classify(text[:5000])
    return lang


def extract_language(page: Page, body: str | None) -> str | None:
    declared = declared_language(page)
    if declared:
        return declared
    return detect_language(body)
