"""Fold finished shard archives into one archive: the one writer of a cluster (issue 15).

A shard is the archive of one crawl job (one site on one Scrapyd node) with its WARC files in
``captures/`` and its picture files in ``images/`` beside it. :func:`merge_shard` folds it into
the archive in one transaction, so a Datasette reading the archive (WAL) sees a shard wholly or
not at all.

How: the shard's history is *replayed through the store* in time order, as if its crawls had
run in this process: every version of every article (the current row walked back through its
``revisions``) goes through :meth:`Archive.save_article` at the time it was seen, removals through
:meth:`Archive.mark_removed`, front-page captures through :meth:`Archive.save_front_page`,
transcripts through :meth:`Archive.save_transcript`. So ids (hash of the canonical URL; pictures
by URL and perceptual hash), revisions, diffs, corrections and the full-text indexes (their
triggers fire) come out exactly as a single-process crawl makes them, and an article in both
the archive and the shard keeps the newer version with the older as a revision. A shard version
older than the archive's latest sighting of a *different* content is not replayed (it would make
the older text current): it is counted as ``older``; merge shards in the order they were crawled.

Rows that are not made by replay are copied: ``crawls`` (new ids here; every ``crawl_id`` the
replay writes is re-pointed, and each crawl keeps the shard's page counts), ``sites``,
``captures`` (``warc_file`` re-pointed, see :func:`copy_warc`) and ``failures`` (attempts added).

A shard is opened as a temporary copy (SQLite's backup), migrated there if its schema is older:
the shard file is never written, except that a leftover write-ahead log is checkpointed into it
before its SHA-256 is taken (``merged_shards``; a known shard is skipped).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsarchive.items import (
    Article,
    Fetch,
    FrontPage,
    Image,
    Placement,
    Transcript,
    TranscriptSegment,
    Video,
)
from newsarchive.store.archive import (
    _FILE_FIELDS,
    _SCALAR_FIELDS,
    Archive,
    ArchiveError,
    content_hash,
    content_snapshot,
    utc_now,
)
from newsarchive.store.inspect import not_an_archive
from newsarchive.store.lock import archive_lock
from newsarchive.store.schema import SCHEMA_VERSION

logger = logging.getLogger(__name__)

#: Where a shard's WARC files go under the archive's captures folder: ``shards/<hash>/<name>``,
#: ``<hash>`` the first hex digits of the file's SHA-256 (a second copy of a file is never made).
SHARD_CAPTURES = "shards"
_DIGEST_LEN = 16
_CHUNK = 1024 * 1024
#: The crawl counters a shard's crawls keep (the replay would count its pages again).
_COUNTERS = (
    "pages_new",
    "pages_changed",
    "pages_unchanged",
    "pages_skipped",
    "pages_removed",
    "pages_revisited",
)
_CRAWL_COLUMNS = ("spider", "site", "args", "started", "finished", "stats", "outcome", *_COUNTERS)
_REMOVED = "removed: "


class NotAShardError(ArchiveError):
    """The file given as a shard is not an archive this code can merge."""


@dataclass
class ShardSummary:
    """What merging one shard did."""

    path: Path
    sha256: str
    skipped: bool = False
    """True when the shard was merged before (``merged_shards``): nothing was written."""
    articles: Counter[str] = field(default_factory=Counter)
    """new, changed, unchanged (as the archive saw them), older (not replayed: see module)."""
    pictures: int = 0
    captures: int = 0
    missing_warcs: int = 0
    failures: int = 0
    crawls: int = 0
    transcripts: int = 0
    front_pages: int = 0

    def line(self) -> str:
        if self.skipped:
            return f"{self.path}: merged before (sha256 {self.sha256[:_DIGEST_LEN]}), skipped"
        a = self.articles
        older = f", {a['older']} older kept as they were" if a["older"] else ""
        missing = f" ({self.missing_warcs} WARC files missing)" if self.missing_warcs else ""
        return (
            f"{self.path}: articles {a['new']} new, {a['changed']} changed, "
            f"{a['unchanged']} unchanged{older}; {self.pictures} pictures, "
            f"{self.captures} captures{missing}, {self.failures} failures, "
            f"{self.transcripts} transcripts, {self.front_pages} front pages, "
            f"{self.crawls} crawls"
        )


def shard_problem(path: Path) -> str | None:
    """Why ``path`` cannot be merged (not an archive, a newer schema), or None."""
    problem = not_an_archive(path)
    if problem:
        return problem
    uri = f"{path.absolute().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return (
            f"{str(path)!r} has schema version {version}, newer than this code ({SCHEMA_VERSION})"
        )
    return None


def shard_digest(path: Path) -> str:
    """SHA-256 of the shard file, its write-ahead log (if any) checkpointed into it first."""
    if Path(f"{path}-wal").exists():
        with closing(sqlite3.connect(str(path))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def open_shard(path: Path) -> Iterator[Archive]:
    """The shard as a temporary, migrated copy (the shard itself is not written)."""
    with tempfile.TemporaryDirectory(prefix="newsarchive-shard-") as tmp:
        copy = Path(tmp) / "shard.db"
        uri = f"{path.absolute().as_uri()}?mode=ro"
        with (
            closing(sqlite3.connect(uri, uri=True)) as src,
            closing(sqlite3.connect(str(copy))) as dst,
        ):
            src.backup(dst)
        with Archive(copy) as shard:
            yield shard


def merge_shard(
    archive: Archive, path: Path, *, captures_dir: Path, images_dir: Path
) -> ShardSummary:
    """Fold the shard at ``path`` into ``archive`` (see the module); skip a known one.

    The shard's own lock is held meanwhile: :class:`ArchiveLocked` if a crawl still writes it."""
    path = Path(path)
    problem = shard_problem(path)
    if problem:
        raise NotAShardError(problem)
    with archive_lock(path):  # ArchiveLocked while a crawl still writes the shard
        summary = ShardSummary(path=path, sha256=shard_digest(path))
        if archive.db.execute(
            "SELECT 1 FROM merged_shards WHERE sha256 = ?", [summary.sha256]
        ).fetchone():
            summary.skipped = True
            return summary
        _merge_copy(archive, path, summary, captures_dir=captures_dir, images_dir=images_dir)
    return summary


def _merge_copy(
    archive: Archive, path: Path, summary: ShardSummary, *, captures_dir: Path, images_dir: Path
) -> None:
    """Replay a temporary copy of the shard into the archive, in one transaction."""
    with open_shard(path) as shard:
        version = _source_version(path)
        files = _ShardFiles(path.parent, captures_dir=captures_dir, images_dir=images_dir)
        with archive.transaction():
            _Merger(archive, shard, files, summary).run()
            _record(archive, summary, version)


def _source_version(path: Path) -> int:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _record(archive: Archive, summary: ShardSummary, version: int) -> None:
    archive.db.execute(
        "INSERT INTO merged_shards (sha256, path, merged_at, schema_version, crawls, articles, "
        "captures, failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary.sha256,
            str(summary.path.absolute()),
            utc_now(),
            version,
            summary.crawls,
            sum(summary.articles.values()),
            summary.captures,
            summary.failures,
        ],
    )


# -- files: WARC captures and picture files --------------------------------------------------


class _ShardFiles:
    """The shard's WARC and picture files, copied under the archive's folders by content."""

    def __init__(self, shard_dir: Path, *, captures_dir: Path, images_dir: Path) -> None:
        self.shard_captures = shard_dir / "captures"
        self.shard_images = shard_dir / "images"
        self.captures_dir = captures_dir
        self.images_dir = images_dir
        self._warcs: dict[str, str | None] = {}

    def warc(self, warc_file: str) -> str | None:
        """The archive's name for the shard's ``warc_file`` (copied once), None if missing."""
        if warc_file not in self._warcs:
            source = Path(warc_file)
            if not source.is_absolute():
                source = self.shard_captures / warc_file
            if source.is_file():
                self._warcs[warc_file] = copy_warc(source, self.captures_dir)
            else:
                logger.warning("WARC file %s is missing: its captures keep their name", source)
                self._warcs[warc_file] = None
        return self._warcs[warc_file]

    @property
    def missing_warcs(self) -> int:
        return sum(1 for name in self._warcs.values() if name is None)

    def picture(self, file_path: str | None, sha256: str | None) -> None:
        """Copy a downloaded picture's file and thumbnails (named by its SHA-256:
        ``thumbs/<id>/<sha256[:2]>/<sha256>.jpg``) unless the archive has them."""
        names = [file_path] if file_path else []
        thumbs = self.shard_images / "thumbs"
        if sha256 and thumbs.is_dir():
            names += [f"thumbs/{d.name}/{sha256[:2]}/{sha256}.jpg" for d in thumbs.iterdir()]
        for name in names:
            source, dest = self.shard_images / name, self.images_dir / name
            if source.is_file() and not dest.exists():
                _copy_atomically(source, dest)


def copy_warc(source: Path, captures_dir: Path) -> str:
    """Copy a WARC file to ``captures_dir/shards/<sha256>/<name>`` unless it is there; return
    that path relative to ``captures_dir`` (what ``captures.warc_file`` holds)."""
    relative = Path(SHARD_CAPTURES) / file_sha256(source)[:_DIGEST_LEN] / source.name
    dest = captures_dir / relative
    if not dest.exists():
        _copy_atomically(source, dest)
    return relative.as_posix()


def _copy_atomically(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.copyfile(source, partial)
    partial.replace(dest)


# -- the replay ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    """One version of an article as the shard saw it: saved at ``seen_at`` by ``crawl_id``."""

    seen_at: str
    crawl_id: int | None
    content: dict[str, Any] | None
    """The content snapshot; None for a removal (``removed`` says why)."""
    removed: str | None = None
    chash: str | None = None
    """The content hash the shard recorded for this version."""


class _Merger:
    """Replays one shard into the archive (inside the caller's transaction)."""

    def __init__(
        self, archive: Archive, shard: Archive, files: _ShardFiles, summary: ShardSummary
    ) -> None:
        self.archive, self.shard, self.files, self.summary = archive, shard, files, summary
        self.crawl_ids: dict[int, int] = {}

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return list(self.shard.db.query(sql, params or []))

    def crawl(self, shard_crawl: int | None) -> int | None:
        return self.crawl_ids.get(shard_crawl) if shard_crawl is not None else None

    def run(self) -> None:
        self.copy_sites_and_crawls()
        self.copy_captures()
        self.replay_front_pages()
        self.replay_articles()
        self.replay_transcripts()
        self.copy_failures()
        self.restore_counters()
        self.archive.refresh_photo_credits()

    def copy_sites_and_crawls(self) -> None:
        for site in self.rows("SELECT site, name, base_url FROM sites"):
            self.archive.ensure_site(site["site"], name=site["name"], base_url=site["base_url"])
        columns = ", ".join(_CRAWL_COLUMNS)
        marks = ", ".join("?" * len(_CRAWL_COLUMNS))
        for row in self.rows(f"SELECT id, {columns} FROM crawls ORDER BY id"):
            cursor = self.archive.db.execute(
                f"INSERT INTO crawls ({columns}) VALUES ({marks})",
                [row[c] for c in _CRAWL_COLUMNS],
            )
            self.crawl_ids[row["id"]] = int(cursor.lastrowid or 0)
        self.summary.crawls = len(self.crawl_ids)

    def restore_counters(self) -> None:
        """Each crawl keeps the page counts its own run made (the replay counted again)."""
        sets = ", ".join(f"{c} = ?" for c in _COUNTERS)
        for row in self.rows(f"SELECT id, {', '.join(_COUNTERS)} FROM crawls"):
            self.archive.db.execute(
                f"UPDATE crawls SET {sets} WHERE id = ?",
                [*(row[c] for c in _COUNTERS), self.crawl_ids[row["id"]]],
            )

    def copy_captures(self) -> None:
        for row in self.rows("SELECT * FROM captures ORDER BY warc_date, id"):
            row["warc_file"] = self.files.warc(row["warc_file"]) or row["warc_file"]
            row["crawl_id"] = self.crawl(row["crawl_id"])
            columns = ", ".join(row)
            self.archive.db.execute(
                f"INSERT OR IGNORE INTO captures ({columns}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            self.summary.captures += 1
        self.summary.missing_warcs = self.files.missing_warcs

    def copy_failures(self) -> None:
        for row in self.rows("SELECT * FROM failures ORDER BY first_seen, id"):
            self.archive.db.execute(_MERGE_FAILURE, [
                row["url"], row["stage"], row["reason"], row["http_status"],
                self.crawl(row["crawl_id"]), row["first_seen"], row["last_seen"], row["attempts"],
            ])  # fmt: skip
            self.summary.failures += 1

    def replay_front_pages(self) -> None:
        for page in self.rows("SELECT * FROM placement_pages ORDER BY seen_at, id"):
            placements = [
                Placement(article_url=p["article_url"], url=p["article_url"], rank=p["rank"],
                          slot=p["slot"], headline=p["headline"])
                for p in self.rows(_PLACEMENTS_OF_PAGE, [page["page"], page["id"], page["id"]])
            ]  # fmt: skip
            front = FrontPage(
                page=page["page"],
                is_home=bool(page["is_home"]),
                placements=placements,
                capture_id=page["capture_id"],
            )
            self.archive.save_front_page(
                front, crawl_id=self.crawl(page["crawl_id"]), seen_at=page["seen_at"]
            )
            self.summary.front_pages += 1

    def replay_transcripts(self) -> None:
        for row in self.rows(_TRANSCRIPTS_SQL):
            segments = [
                TranscriptSegment(start_s=s["start_s"], duration_s=s["duration_s"], text=s["text"])
                for s in self.rows(
                    "SELECT start_s, duration_s, text FROM transcript_segments "
                    "WHERE transcript_id = ? ORDER BY position",
                    [row["id"]],
                )
            ]
            transcript = Transcript(
                provider=row["provider"], video_id=row["provider_video_id"],
                video_url=row["video_url"], language=row["language"], kind=row["kind"],
                url=row["source_url"] or "", name=row["name"], segments=segments,
                capture_id=row["capture_id"],
            )  # fmt: skip
            crawl_id = self.crawl(row["crawl_id"])
            for seen_at in sorted({row["first_seen"], row["last_seen"]}):
                self.archive.save_transcript(transcript, crawl_id=crawl_id, seen_at=seen_at)
            self.summary.transcripts += 1

    # -- articles --

    def replay_articles(self) -> None:
        """Every version of every article of the shard, in the order they were seen."""
        events: list[tuple[str, int, str, _Version]] = []
        articles = {row["id"]: row for row in self.rows("SELECT * FROM articles")}
        for aid, row in articles.items():
            for number, version in enumerate(self.versions(row)):
                events.append((version.seen_at, number, aid, version))
        events.sort(key=lambda event: (event[0], event[1], event[2]))
        statuses: dict[str, set[str]] = {aid: set() for aid in articles}
        for _, _, aid, version in events:
            statuses[aid].add(self.apply(articles[aid], version))
        for seen in statuses.values():
            status = next(s for s in ("new", "changed", "older", "unchanged") if s in seen)
            self.summary.articles[status] += 1
        self.summary.pictures = self.shard.count("images")

    def versions(self, row: dict[str, Any]) -> list[_Version]:
        """The article's versions, oldest first: the current one walked back through its
        revisions, then a last sighting at ``last_seen``."""
        now = current = self.shard.load_snapshot(row["id"])
        later: list[_Version] = []
        revisions = self.rows(
            "SELECT * FROM revisions WHERE article_id = ? ORDER BY seen_at DESC, id DESC",
            [row["id"]],
        )
        chash = row["content_hash"]
        for revision in revisions:
            diff = revision["diff"] or ""
            if diff.startswith(_REMOVED) and revision["changed_fields"] == '["removed_at"]':
                reason = diff[len(_REMOVED) :]
                later.append(_Version(revision["seen_at"], revision["crawl_id"], None, reason))
                continue
            seen_at, crawl_id = revision["seen_at"], revision["crawl_id"]
            later.append(_Version(seen_at, crawl_id, current, chash=revision["new_content_hash"]))
            current = {**current, **json.loads(revision["old_values"])}
            chash = revision["old_content_hash"]
        first_crawl = self.crawl_before(row["first_seen"], row["crawl_id"])
        first = _Version(row["first_seen"], first_crawl, current, chash=chash)
        last = _Version(row["last_seen"], row["crawl_id"], now, chash=row["content_hash"])
        return [first, *reversed(later), last]

    def crawl_before(self, seen_at: str, fallback: int | None) -> int | None:
        """The shard's crawl that was running at ``seen_at`` (the latest started by then)."""
        found = self.shard.db.execute(
            "SELECT id FROM crawls WHERE started <= ? ORDER BY started DESC, id DESC LIMIT 1",
            [seen_at],
        ).fetchone()
        return found[0] if found else fallback

    def apply(self, row: dict[str, Any], version: _Version) -> str:
        crawl_id = self.crawl(version.crawl_id)
        if version.content is None:
            self.archive.mark_removed(
                row["url"], reason=version.removed or "", article_id=row["id"],
                crawl_id=crawl_id, seen_at=version.seen_at,
            )  # fmt: skip
            return "unchanged"
        article = self.article(row, version)
        chash = version.chash or content_hash(content_snapshot(article))
        if self.is_older(row["id"], chash, version.seen_at):
            return "older"
        return self.archive.save_article(
            article, crawl_id=crawl_id, seen_at=version.seen_at, known_hash=chash
        )

    def is_older(self, aid: str, chash: str, seen_at: str) -> bool:
        """The archive saw a different content of this article after ``seen_at``."""
        stored = self.archive.db.execute(
            "SELECT content_hash, last_seen FROM articles WHERE id = ?", [aid]
        ).fetchone()
        return stored is not None and stored[1] > seen_at and stored[0] != chash

    def article(self, row: dict[str, Any], version: _Version) -> Article:
        content: dict[str, Any] = version.content or {}
        is_last = version.seen_at == row["last_seen"]
        return Article(
            url=row["url"],
            canonical_url=row["canonical_url"],
            site=row["site"],
            **{f: content.get(f) for f in _SCALAR_FIELDS},  # type: ignore[arg-type]
            authors=list(content.get("authors") or []),
            tags=list(content.get("tags") or []),
            images=[self.image(row["id"], i) for i in content.get("images") or []],
            videos=[Video(**v) for v in content.get("videos") or []],
            fetch=Fetch(
                etag=row["http_etag"],
                last_modified=row["http_last_modified"],
                source_date=row["source_date"],
            ),
            capture_id=row["capture_id"] if is_last else None,
        )

    def image(self, aid: str, use: dict[str, Any]) -> Image:
        """A picture's use with its downloaded file's facts (its file copied over)."""
        facts = self.shard.db.execute(_PICTURE_SQL, [aid, use["url"]]).fetchone()
        values = dict(
            zip((*_FILE_FIELDS, "capture_id", "caption_source"), facts or (), strict=False)
        )
        self.files.picture(values.get("file_path"), values.get("sha256"))
        return Image(**use, **values)


_PICTURE_SQL = (
    f"SELECT {', '.join(f'i.{c}' for c in _FILE_FIELDS)}, i.capture_id, "
    "(SELECT caption_source FROM article_images WHERE article_id = ? AND image_id = i.id) "
    "FROM image_urls u JOIN images i ON i.id = u.image_id WHERE u.url = ?"
)
_PLACEMENTS_OF_PAGE = (
    "SELECT article_url, rank, slot, headline FROM placements "
    "WHERE page = ? AND first_page_id <= ? AND last_page_id >= ? ORDER BY rank, id"
)
_TRANSCRIPTS_SQL = (
    "SELECT t.*, v.provider, v.video_id AS provider_video_id, v.url AS video_url "
    "FROM transcripts t JOIN videos v ON v.id = t.video_id ORDER BY t.first_seen, t.id"
)
#: A shard's failure: the same URL and stage failing in both adds the attempts; the later
#: failure's reason and status win.
_MERGE_FAILURE = (
    "INSERT INTO failures (url, stage, reason, http_status, crawl_id, first_seen, last_seen, "
    "attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url, stage) DO UPDATE SET "
    "reason = iif(excluded.last_seen >= failures.last_seen, excluded.reason, failures.reason), "
    "http_status = iif(excluded.last_seen >= failures.last_seen, excluded.http_status, "
    "failures.http_status), "
    "crawl_id = iif(excluded.last_seen >= failures.last_seen, "
    "coalesce(excluded.crawl_id, failures.crawl_id), failures.crawl_id), "
    "first_seen = min(failures.first_seen, excluded.first_seen), "
    "last_seen = max(failures.last_seen, excluded.last_seen), "
    "attempts = failures.attempts + excluded.attempts"
)
