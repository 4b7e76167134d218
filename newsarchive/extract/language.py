"""Language: the page's declaration, else detection on the text (py3langid)."""

from __future__ import annotations

import functools
import re
from array import array
from typing import Any

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


#: The DFA's per-state tables as machine integers ("l": signed, the output table holds -1).
_COMPACT_TYPECODE = "l"


@functools.cache
def _identifier() -> Any:
    """py3langid's identifier (its default model, as ``py3langid.classify`` uses), with the two
    per-state tables it keeps as Python lists (104,583 ints each, about 3.7 MB apiece) as arrays
    (0.8 MB): every extraction worker loads the model, and ``visit_counts`` only indexes them,
    so classification is the same (issue 13: the crawl's memory)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # numpy; loads on first use

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.tk_output = array(_COMPACT_TYPECODE, identifier.tk_output)
    identifier._rowbase = array(_COMPACT_TYPECODE, identifier._rowbase)
    return identifier


def detect_language(text: str | None) -> str | None:
    if not text or len(text) < 20:
        return None
    lang, _ = _identifier().classify(text[:5000])
    return lang


def extract_language(page: Page, body: str | None) -> str | None:
    declared = declared_language(page)
    if declared:
        return declared
    return detect_language(body)
