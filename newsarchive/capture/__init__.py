"""Captures: every HTTP exchange of a crawl, written to WARC files, and read back from them.

- ``writer``: rotating gzip WARC files (warcio), reading a record back, indexing files.

The Scrapy side (``WarcCaptureMiddleware``, ``WarcReplayMiddleware``, ``CaptureLinkMiddleware``)
is in :mod:`newsarchive.middlewares.capture`; ``captures`` rows are written through the crawl's
:class:`~newsarchive.extension.ArchiveExtension`.
"""

from newsarchive.capture.writer import (
    CAPTURE_META,
    CaptureRef,
    RotatingWarcWriter,
    index_warcs,
    read_capture,
)

__all__ = ["CAPTURE_META", "CaptureRef", "RotatingWarcWriter", "index_warcs", "read_capture"]
