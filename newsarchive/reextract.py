"""Re-run the current extraction over the stored captures of every article.

``newsarchive reextract [--db archive.db] [--warc-dir captures/]``: for each article with a
capture, read its response record back from the WARC file, undo its Content-Encoding, run
:func:`newsarchive.extract.extract_article` on it, and save the result with
:meth:`Archive.save_article`, so a better extractor updates the rows and every change is a
``revisions`` row, as when a crawl sees a page change. The run is a ``crawls`` row of its own
(spider "reextract"). Pictures keep their downloaded facts (the rows are found by URL).
Video transcripts are read again from the captures of their timed text the same way.

What the crawl knew besides the page is kept: the site key, a "video" kind set from the
profile's video patterns or the link, and how the page was fetched (HTTP validators).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from w3lib.encoding import http_content_type_encoding

from newsarchive.capture.writer import read_capture
from newsarchive.extract import ExtractionError
from newsarchive.extract.transcripts import parse_timed_text
from newsarchive.items import Article, CrawlFailure
from newsarchive.pool import ExtractPool
from newsarchive.store import Archive, CapturedArticle
from newsarchive.store.lock import archive_lock

logger = logging.getLogger(__name__)

#: Pages read and sent to the pool ahead of the one being saved, per worker.
PAGES_AHEAD_PER_WORKER = 2


@dataclass
class ReextractResult:
    crawl_id: int
    counts: Counter = field(default_factory=Counter)
    """new / changed / unchanged (as save_article says), missing (no WARC file), failed; the
    same with a ``transcripts_`` prefix for video transcripts."""


def resolve_warc(warc_file: str, warc_dir: Path) -> Path:
    path = Path(warc_file)
    return path if path.is_absolute() else warc_dir / path


def reextract(
    db_path: str | Path,
    *,
    warc_dir: str | Path | None = None,
    progress: Callable[[int, int, Counter], None] | None = None,
    pool: ExtractPool | None = None,
) -> ReextractResult:
    """Re-extract every captured article of the archive at ``db_path`` (WARC files relative to
    ``warc_dir``, by default ``captures/`` beside the archive), in ``pool``'s worker processes (by
    default one per core). ``progress(done, total, counts)`` is called after each article."""
    db_path = Path(db_path)
    warc_dir = Path(warc_dir) if warc_dir else db_path.resolve().parent / "captures"
    with archive_lock(db_path), Archive(db_path) as archive, pool or ExtractPool() as workers:
        rows = list(archive.captured_articles())
        crawl_id = archive.start_crawl(spider="reextract", args={"articles": len(rows)})
        result = ReextractResult(crawl_id)
        asyncio.run(_reextract_rows(archive, workers, rows, warc_dir, result, progress))
        _reextract_transcripts(archive, warc_dir, result)
        stats = {f"newsarchive/reextract/{k}": v for k, v in result.counts.items()}
        archive.finish_crawl(crawl_id, stats=stats, outcome="finished")
    return result


async def _reextract_rows(
    archive: Archive,
    pool: ExtractPool,
    rows: list[CapturedArticle],
    warc_dir: Path,
    result: ReextractResult,
    progress: Callable[[int, int, Counter], None] | None,
) -> None:
    """Read each capture here, extract it in the pool (a few pages ahead, so every worker is
    busy) and save the articles in order."""
    ahead: deque[tuple[CapturedArticle, asyncio.Future[Article]]] = deque()
    window = max(1, pool.workers) * PAGES_AHEAD_PER_WORKER
    for done, row in enumerate(rows):
        if progress is not None:
            progress(done, len(rows), result.counts)
        path = resolve_warc(row.warc_file, warc_dir)
        if not path.is_file():
            result.counts["missing"] += 1
            logger.warning("%s: WARC file %s is missing", row.url, path)
            continue
        try:
            stored = read_capture(path, row.warc_offset, decode=True)
        except (OSError, ValueError) as exc:
            result.counts["failed"] += 1
            logger.warning("%s: cannot read capture %s: %s", row.url, row.capture_id, exc)
            continue
        encoding = http_content_type_encoding(row.content_type)
        extracted = pool.extract(row.capture_url, stored.body, site=row.site, encoding=encoding)
        ahead.append((row, asyncio.ensure_future(extracted)))
        while len(ahead) >= window:
            await _save_next(archive, ahead, result)
    while ahead:
        await _save_next(archive, ahead, result)


async def _save_next(
    archive: Archive,
    ahead: deque[tuple[CapturedArticle, asyncio.Future[Article]]],
    result: ReextractResult,
) -> None:
    row, task = ahead.popleft()
    crawl_id = result.crawl_id
    try:
        article = await task
    except ExtractionError as exc:
        result.counts["failed"] += 1
        archive.record_failure(
            CrawlFailure(url=row.capture_url, stage="extract", reason=str(exc)),
            crawl_id=crawl_id,
        )
        return
    result.counts[archive.save_article(_as_crawled(article, row), crawl_id=crawl_id)] += 1


def _as_crawled(article: Article, row: CapturedArticle) -> Article:
    """The re-extracted article with what the crawl knew besides the page: the identity was
    settled when the page was crawled (the profile's domains decided whether its rel=canonical
    counted), so re-extraction re-reads the content only. ``fetch`` stays None: the stored
    validators and source date are left as they are."""
    article.site = row.site
    article.canonical_url = row.canonical_url
    if row.kind == "video":
        article.kind = "video"
    article.capture_id = row.capture_id
    return article


def _reextract_transcripts(archive: Archive, warc_dir: Path, result: ReextractResult) -> None:
    """Parse the captured timed text of every transcript again and save it (segments replaced
    when they differ); counts as ``transcripts_<status>``."""
    for captured in archive.captured_transcripts():
        transcript = captured.transcript
        path = resolve_warc(captured.warc_file, warc_dir)
        try:
            stored = read_capture(path, captured.warc_offset, decode=True)
            transcript.segments = parse_timed_text(stored.body)
        except (OSError, ValueError) as exc:  # no file; not a capture; TranscriptError
            result.counts["transcripts_failed"] += 1
            logger.warning("%s: cannot re-read the timed text: %s", transcript.url, exc)
            continue
        if not transcript.segments:
            continue
        status = archive.save_transcript(transcript, crawl_id=result.crawl_id)
        result.counts[f"transcripts_{status}"] += 1
