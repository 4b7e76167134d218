"""The one exception extraction raises."""

from __future__ import annotations

from newsarchive.items import FailureStage


class ExtractionError(Exception):
    """The input cannot be turned into an Article (empty, not HTML, unparsable)."""

    stage: FailureStage = "extract"
    """The ``failures.stage`` a crawl records for this error."""
