"""Platform rules: markup conventions of publishing platforms (RebelMouse, ...).

A platform module offers ``detect(page) -> bool`` and ``prepare(page) -> dict``; ``prepare``
may set ``page.body_container`` / ``page.article_root`` (the article's body container and root,
used by the generic image and video extractors) and returns fields it knows better than the
generic extractors ("title", "authors", "section", "body_text").
"""

from __future__ import annotations

from typing import Any

from newsarchive.extract.document import Page
from newsarchive.extract.platforms import rebelmouse

PLATFORMS = {"rebelmouse": rebelmouse}


def apply(page: Page) -> dict[str, Any]:
    for name, module in PLATFORMS.items():
        if module.detect(page):
            page.platform = name
            return module.prepare(page)
    return {}
