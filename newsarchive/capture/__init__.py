"""Captures: every HTTP exchange of a crawl, written to WARC files, and replayed from them.

- ``writer``: rotating gzip WARC files (warcio), reading a record back, indexing files;
- ``middleware``: the Scrapy side: ``WarcCaptureMiddleware`` (write), ``WarcReplayMiddleware``
  (answer requests from WARC files), ``CaptureLinkMiddleware`` (give each article its capture);
- ``pipeline``: turns a replayed request the captures don't hold into a ``failures`` row;
- ``recorder``: the crawl's second connection to the archive, for rows that are not items
  (``captures``, and failures found outside the spider: pictures, replay misses).
"""

from newsarchive.capture.writer import (
    CAPTURE_META,
    CaptureRef,
    RotatingWarcWriter,
    index_warcs,
    read_capture,
)

__all__ = ["CAPTURE_META", "CaptureRef", "RotatingWarcWriter", "index_warcs", "read_capture"]
