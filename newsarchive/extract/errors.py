"""The one exception extraction raises."""

from __future__ import annotations


class ExtractionError(Exception):
    """The input cannot be turned into an Article (empty, not HTML, unparsable)."""
