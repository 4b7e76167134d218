"""Normalise every article with the shared processors (idempotent)."""

from __future__ import annotations

from typing import Any

from newsarchive.items import Article
from newsarchive.processors import normalize_article


class NormalizePipeline:
    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            return normalize_article(item)
        return item
