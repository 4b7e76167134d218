"""Re-run the current extraction over the stored captures of every article.

``newsarchive reextract [--db archive.db] [--warc-dir captures/]``: for each article with a
capture, read its response record back from the WARC file, undo its Content-Encoding, run
:func:`newsarchive.extract.extract_article` on it, and save the result with
:meth:`Archive.save_article`, so a better extractor updates the rows and every change is a
``revisions`` row, as when a crawl sees a page change. The run is a ``crawls`` row of its own
(spider "reextract"). Pictures keep their downloaded facts (the rows are found by URL).

What the crawl knew besides the page is kept: the site key, a "video" kind set from the
profile's video patterns or the link, and how the page was fetched (HTTP validators).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from w3lib.encoding import http_content_type_encoding

from newsarchive.capture.writer import read_capture
from newsarchive.extract import ExtractionError, extract_article
from newsarchive.items import CrawlFailure
from newsarchive.store import Archive
from newsarchive.store.lock import archive_lock

logger = logging.getLogger(__name__)


@dataclass
class ReextractResult:
    crawl_id: int
    counts: Counter = field(default_factory=Counter)
    """new / changed / unchanged (as save_article says), missing (no WARC file), failed."""


def resolve_warc(warc_file: str, warc_dir: Path) -> Path:
    path = Path(warc_file)
    return path if path.is_absolute() else warc_dir / path


def reextract(db_path: str | Path, *, warc_dir: str | Path | None = None,
              progress: Callable[[int, int, Counter], None] | None = None) -> ReextractResult:
    """Re-extract every captured article of the archive at ``db_path`` (WARC files relative to
    ``warc_dir``, by default ``captures/`` beside the archive). ``progress(done, total, counts)``
    is called after each article."""
    db_path = Path(db_path)
    warc_dir = Path(warc_dir) if warc_dir else db_path.resolve().parent / "captures"
    with archive_lock(db_path), Archive(db_path) as archive:  # no crawl writes meanwhile
        rows = list(archive.db.query(
            "SELECT a.id, a.site, a.kind, a.url, a.canonical_url, c.id AS capture_id, c.url AS capture_url, c.warc_file, c.warc_offset, c.content_type "
            "FROM articles a JOIN captures c ON c.id = a.capture_id ORDER BY a.id"))
        crawl_id = archive.start_crawl(spider="reextract", args={"articles": len(rows)})
        result = ReextractResult(crawl_id)
        for done, row in enumerate(rows):
            if progress is not None:
                progress(done, len(rows), result.counts)
            path = resolve_warc(row["warc_file"], warc_dir)
            if not path.is_file():
                result.counts["missing"] += 1
                logger.warning("%s: WARC file %s is missing", row["url"], path)
                continue
            try:
                stored = read_capture(path, row["warc_offset"], decode=True)
                article = extract_article(row["capture_url"], stored.body, site=row["site"],
                                          encoding=http_content_type_encoding(row["content_type"]))
            except ExtractionError as exc:
                result.counts["failed"] += 1
                archive.record_failure(CrawlFailure(url=row["capture_url"], stage="extract", reason=str(exc)),
                                       crawl_id=crawl_id)
                continue
            except (OSError, ValueError) as exc:
                result.counts["failed"] += 1
                logger.warning("%s: cannot read capture %s: %s", row["url"], row["capture_id"], exc)
                continue
            article.site = row["site"]
            # The identity was settled when the page was crawled (the profile's domains decided
            # whether its rel=canonical counted): re-extraction re-reads the content only.
            article.canonical_url = row["canonical_url"]
            if row["kind"] == "video":
                article.kind = "video"
            article.capture_id = row["capture_id"]
            # article.fetch stays None: the stored validators and source date are left as they are.
            result.counts[archive.save_article(article, crawl_id=crawl_id)] += 1
        stats = {f"newsarchive/reextract/{k}": v for k, v in result.counts.items()}
        archive.finish_crawl(crawl_id, stats=stats, outcome="finished")
    return result
