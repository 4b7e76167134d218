"""``Archive``: the one SQLite file a crawl writes and Datasette serves.

Every write is idempotent: saving the same article twice leaves identical rows
except ``articles.last_seen``. A changed article is updated in place and its
previous values are kept as a ``revisions`` row.

Articles arrive normalised (:func:`newsarchive.extract.extract_article` returns them so):
the store hashes and writes them as they are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from sqlite_utils.db import NotFoundError, Table

from newsarchive.history import find_corrections, new_corrections, readable_diff
from newsarchive.items import Article, CrawlFailure, FrontPage, Image, Placement, Transcript, Video
from newsarchive.processors import canonical_url
from newsarchive.store.schema import (
    SCHEMA_VERSION,
    migrate,
    pending_migrations,
    refresh_photo_credits,
    schema_version,
)


class ArchiveError(Exception):
    """Base class of the archive's own errors."""


class ReadOnlyArchiveError(ArchiveError):
    """A write was attempted on an archive opened with ``readonly=True``."""


class SchemaVersionError(ArchiveError):
    """The file's schema is not the version this code reads (read-only open)."""


#: What :meth:`Archive.save_article` did: a new row, a changed one (with a revision), or only
#: ``last_seen`` moved.
SaveStatus = Literal["new", "changed", "unchanged"]

#: Article fields whose change makes a new revision, in this order.
CONTENT_FIELDS = (
    "kind",
    "title",
    "description",
    "authors",
    "published",
    "modified",
    "published_raw",
    "modified_raw",
    "section",
    "tags",
    "language",
    "body_text",
    "images",
    "videos",
)
#: The content fields stored as ``articles`` columns (the others are link tables).
_SCALAR_FIELDS = tuple(
    f for f in CONTENT_FIELDS if f not in ("authors", "tags", "images", "videos")
)
#: What a picture's use in an article says about it (its content, not its downloaded file).
_IMAGE_FIELDS = (
    "url",
    "caption",
    "credit",
    "photographer",
    "agency",
    "alt",
    "width",
    "height",
    "position",
    "is_lead",
)
#: Facts of a picture's downloaded file (set by the images pipeline); ``capture_id`` apart.
_FILE_FIELDS = (
    "file_format",
    "file_width",
    "file_height",
    "file_bytes",
    "sha256",
    "phash",
    "file_path",
    "thumbnail",
)
#: A video's fields are its columns, in the order of :class:`~newsarchive.items.Video`.
_VIDEO_FIELDS = tuple(f.name for f in dataclasses.fields(Video))
#: Columns a later sighting of a video fills in when they are missing (``url`` is replaced).
_VIDEO_DETAILS = tuple(f for f in _VIDEO_FIELDS if f not in ("provider", "video_id", "url"))
#: The name tables (``authors``, ``tags``): their link table and its key column.
_NAME_LINKS = {"authors": ("article_authors", "author_id"), "tags": ("article_tags", "tag_id")}
_LINK_TABLES = ("article_authors", "article_tags", "article_images", "article_videos")

#: Names looked up in one ``IN (...)`` query (SQLite allows 32,766 parameters).
_NAMES_PER_QUERY = 500
_MONTH = re.compile(r"^(\d{4}-\d{2})")
_HASH_LEN = 16  # hex characters of SHA-256: 64 bits
#: How long a write waits for another connection's transaction before failing.
BUSY_TIMEOUT_MS = 10_000


# -- placements (front and section pages) ---------------------------------------------------------

#: The longest a ``placements`` run lasts: an unchanged placement seen for longer gets a new row,
#: so that "what was on the page at T" reads at most this much of the (page, first_seen) index.
PLACEMENT_RUN_MAX = dt.timedelta(days=1)
_PLACEMENT_COLUMNS = (
    "page",
    "article_url",
    "article_id",
    "rank",
    "slot",
    "headline",
    "first_seen",
    "last_seen",
    "first_crawl_id",
    "last_crawl_id",
    "first_page_id",
    "last_page_id",
)
_EXTEND_RUN = (
    "UPDATE placements SET last_seen = ?, last_crawl_id = ?, last_page_id = ?, "
    "sightings = sightings + 1 WHERE id = ?"
)
#: A run's key: what must stay the same from one capture of the page to the next.
RunKey = tuple[str, int, str | None]


def _insert_sql(table: str, columns: tuple[str, ...], *, ignore: bool = False) -> str:
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _upsert_sql(table: str, columns: tuple[str, ...], updates: list[str]) -> str:
    """``INSERT … ON CONFLICT(id) DO UPDATE SET updates``: sqlite-utils' upsert replaces values,
    these statements keep what is stored where the new record has nothing (``coalesce``)."""
    return f"{_insert_sql(table, columns)} ON CONFLICT(id) DO UPDATE SET {', '.join(updates)}"


_UPSERT_VIDEO = _upsert_sql(
    "videos",
    ("id", *_VIDEO_FIELDS, "first_seen"),
    ["url = excluded.url", *(f"{c} = coalesce(excluded.{c}, videos.{c})" for c in _VIDEO_DETAILS)],
)
#: The page's declared size wins; the file's facts, once known, stay.
_UPSERT_IMAGE = _upsert_sql(
    "images",
    ("id", "url", "width", "height", "capture_id", *_FILE_FIELDS, "first_seen"),
    [
        *(f"{c} = coalesce(excluded.{c}, images.{c})" for c in ("width", "height", "capture_id")),
        *(f"{c} = coalesce(images.{c}, excluded.{c})" for c in _FILE_FIELDS),
    ],
)
#: The scalar content fields stored in the ``articles`` row; ``body_text`` is in ``article_texts``.
_ROW_FIELDS = tuple(f for f in _SCALAR_FIELDS if f != "body_text")
_SCALARS_SQL = (
    f"SELECT {', '.join(f'a.{f}' for f in _ROW_FIELDS)}, t.body_text FROM articles a "
    "LEFT JOIN article_texts t ON t.article_id = a.id WHERE a.id = ?"
)
#: An article's text: a changed text replaces the stored one (the FTS triggers fire only then).
_UPSERT_TEXT = (
    "INSERT INTO article_texts (article_id, body_text) VALUES (?, ?) "
    "ON CONFLICT(article_id) DO UPDATE SET body_text = excluded.body_text "
    "WHERE article_texts.body_text IS NOT excluded.body_text"
)
_IMAGE_USES_SQL = (
    "SELECT i.url, ai.caption, ai.credit, ai.photographer, ai.agency, ai.alt, i.width, i.height, "
    "ai.position, ai.is_lead FROM article_images ai JOIN images i ON i.id = ai.image_id "
    "WHERE ai.article_id = ? ORDER BY ai.position"
)
_VIDEO_USES_SQL = (
    f"SELECT {', '.join(f'v.{c}' for c in _VIDEO_FIELDS)} FROM article_videos av "
    "JOIN videos v ON v.id = av.video_id WHERE av.article_id = ? ORDER BY av.position"
)
_CAPTURED_SQL = (
    "SELECT a.id AS article_id, a.site, a.kind, a.url, a.canonical_url, c.id AS capture_id, "
    "c.url AS capture_url, c.warc_file, c.warc_offset, c.content_type "
    "FROM articles a JOIN captures c ON c.id = a.capture_id ORDER BY a.id"
)


def utc_now() -> str:
    """Now, ISO 8601 in UTC with seconds (``2024-05-01T12:00:00+00:00``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def stable_id(value: str) -> str:
    """A stable short hash of a URL: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:_HASH_LEN]


def article_id(article: Article) -> str:
    """The ``articles.id`` of an article: hash of its canonical URL, else its URL."""
    return stable_id(article.canonical_url or article.url)


def video_key(video: Video | Transcript) -> str:
    """``videos.id`` of a video (or of a transcript's video): ``provider:video_id``."""
    return f"{video.provider}:{video.video_id}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def content_snapshot(article: Article) -> dict[str, Any]:
    """The normalised content of an article that revisions track."""
    snapshot = {f: getattr(article, f) for f in _SCALAR_FIELDS}
    snapshot["authors"] = list(article.authors)
    snapshot["tags"] = list(article.tags)
    snapshot["images"] = [_image_dict(i) for i in article.images]
    snapshot["videos"] = [_video_dict(v) for v in article.videos]
    return snapshot


def _image_dict(image: Image) -> dict[str, Any]:
    d = {f: getattr(image, f) for f in _IMAGE_FIELDS}
    d["is_lead"] = bool(d["is_lead"])
    return d


def _video_dict(video: Video) -> dict[str, Any]:
    """The video's fields (``dataclasses.asdict`` deep-copies: ten times slower)."""
    return {f: getattr(video, f) for f in _VIDEO_FIELDS}


def _fetch_columns(article: Article) -> dict[str, Any]:
    """The articles columns that come from how the page was fetched (none if unknown)."""
    fetch = article.fetch
    if fetch is None:
        return {}
    return {
        "http_etag": fetch.etag,
        "http_last_modified": fetch.last_modified,
        "source_date": fetch.source_date,
    }


def _article_row(
    aid: str, article: Article, chash: str, seen_at: str, crawl_id: int | None
) -> dict[str, Any]:
    """The ``articles`` row of an article (without ``first_seen``; its text goes to
    ``article_texts``)."""
    month = _MONTH.match(article.published or "")
    return {
        "id": aid,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "site": article.site,
        **{f: getattr(article, f) for f in _ROW_FIELDS},
        "published_month": month.group(1) if month else None,
        "authors_text": ", ".join(article.authors) or None,
        "tags_text": ", ".join(article.tags) or None,
        "word_count": len(article.body_text.split()) if article.body_text else 0,
        "content_hash": chash,
        "last_seen": seen_at,
        "crawl_id": crawl_id,
        "has_correction": int(bool(find_corrections(article.body_text))),
        "removed_at": None,
        "removed_reason": None,
        **_fetch_columns(article),
    }


def _capture_row(capture: dict[str, Any], crawl_id: int | None) -> dict[str, Any]:
    """The ``captures`` row of a capture (a :class:`newsarchive.capture.CaptureRef` as a dict)."""
    return {
        "id": capture["id"],
        "url": capture["url"],
        "warc_file": capture["warc_file"],
        "warc_offset": capture["offset"],
        "warc_length": capture["length"],
        "payload_digest": capture.get("payload_digest"),
        "warc_date": capture["warc_date"],
        "status": capture.get("status"),
        "content_type": capture.get("content_type"),
        "crawl_id": crawl_id,
    }


def content_hash(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(_dumps(snapshot).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KnownPage:
    """What the archive knows about a page, for incremental crawls."""

    article_id: str
    etag: str | None
    last_modified: str | None
    source_date: str | None
    last_seen: str
    removed_at: str | None
    url: str | None = None
    """The archived URL."""
    published: str | None = None
    """``articles.published``: the page's publication time, ISO 8601 UTC."""
    modified: str | None = None
    """``articles.modified``: the modification time the page itself gave (JSON-LD dateModified...)."""
    first_seen: str | None = None
    """When the archive first saw the page."""


@dataclass(frozen=True)
class CapturedArticle:
    """An archived article with the WARC capture it was last extracted from (for re-extraction)."""

    article_id: str
    """``articles.id``."""
    site: str | None
    """``articles.site``: the site key the crawl gave."""
    kind: str
    """``articles.kind``: "article" or "video"."""
    url: str
    """``articles.url``: the archived URL."""
    canonical_url: str | None
    """``articles.canonical_url``: the identity the crawl settled on."""
    capture_id: str
    """``captures.id`` (``urn:uuid:…``)."""
    capture_url: str
    """The URL the capture was fetched from."""
    warc_file: str
    """The WARC file, relative to the captures folder (or absolute)."""
    warc_offset: int
    """Byte offset of the response record in ``warc_file``."""
    content_type: str | None
    """The response's Content-Type header."""


def _connect_readonly(path: Path) -> sqlite_utils.Database:
    if not path.exists():
        raise FileNotFoundError(path)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite_utils.Database(sqlite3.connect(uri, uri=True, check_same_thread=False))


def _connect_writable(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
    db.enable_wal()
    return db


class Archive:
    """The archive database. Opening it creates or migrates the schema.

    ``readonly=True`` opens the file with SQLite's ``mode=ro``: nothing is
    created or migrated and every write method raises ``ReadOnlyArchiveError``.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        # One connection, usable from any thread (Scrapy may write from a thread
        # pool); the lock keeps each public call whole.
        self._lock = threading.RLock()
        self.readonly = readonly
        #: ``captures`` rows waiting for the next write (see :meth:`queue_capture`), by id.
        self._pending_captures: dict[str, dict[str, Any]] = {}
        self.db = _connect_readonly(self.path) if readonly else _connect_writable(self.path)
        self.db.conn.execute("PRAGMA foreign_keys = ON")
        self.db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if readonly:
            self._check_version()
        else:
            # Under WAL, NORMAL syncs at checkpoints, not at every commit: a power loss (not a
            # crash of the process) may lose the last transactions, never corrupt the file.
            self.db.conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self.db)

    def _check_version(self) -> None:
        version = schema_version(self.db)
        if version != SCHEMA_VERSION or pending_migrations(self.db):
            self.db.close()
            raise SchemaVersionError(
                f"{self.path} has schema version {version}, this code reads {SCHEMA_VERSION}"
            )

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Write the captures still queued (:meth:`queue_capture`), then close the file."""
        with self._lock:
            try:
                self.flush_captures()
            finally:
                self.db.close()

    def checkpoint(self) -> None:
        """Merge the WAL into the main file (``wal_checkpoint(TRUNCATE)``), e.g. before
        the file is copied or served with ``datasette -i``."""
        self._writable()
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def snapshot(self, dest: str | Path) -> Path:
        """Write a consistent, compacted copy of the archive to ``dest`` (``VACUUM
        INTO``; rollback journal mode, so it is a single file to download or serve
        immutable). Allowed on a read-only archive. ``dest`` must not exist."""
        dest = Path(dest)
        if dest.exists():
            raise FileExistsError(dest)
        with self._lock:
            self.db.execute("VACUUM INTO ?", [str(dest)])
        return dest

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({str(self.path)!r}{', readonly=True' if self.readonly else ''})"

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One transaction, holding the lock (nested calls become savepoints). The outermost
        writes the queued captures first (:meth:`queue_capture`); rolled back, they stay queued."""
        with self._lock:
            pending: dict[str, dict[str, Any]] = {}
            if not self.db.conn.in_transaction:
                pending, self._pending_captures = self._pending_captures, {}
            try:
                with self.db.atomic():
                    self._insert_rows("captures", list(pending.values()), ignore=True)
                    yield
            except BaseException:
                self._pending_captures = {**pending, **self._pending_captures}
                raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around several writes (``newsarchive merge``: one per shard, so that a
        reader sees a shard wholly or not at all); the methods called inside become savepoints."""
        self._writable()
        with self._tx():
            yield

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyArchiveError(f"{self.path} was opened read-only")

    def _table(self, name: str) -> Table:
        return Table(self.db, name)

    def _has_row(self, table: str, row_id: str) -> bool:
        return self._table(table).count_where("id = ?", [row_id]) > 0

    # sqlite-utils' insert, update and lookup read the table's schema (sqlite_master, PRAGMA
    # table_info, index_list) on every call: through them save_article took 5 ms a page instead
    # of 0.75 (300 pages saved into a new archive), and the crawl's main process is its limit
    # (docs/performance.md). What is done for every new or changed page goes through the two
    # helpers below, _name_id and plain queries; the rest (crawls, captures read back, counts,
    # removed pages) uses sqlite-utils.

    def _insert_rows(self, table: str, rows: list[dict[str, Any]], *, ignore: bool = False) -> None:
        """Insert ``rows`` (dicts with the same keys) in one ``executemany``."""
        if rows:
            sql = _insert_sql(table, tuple(rows[0]), ignore=ignore)
            self.db.conn.executemany(sql, [tuple(row.values()) for row in rows])

    def _update_row(self, table: str, row_id: str, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{column} = ?" for column in values)
        self.db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), row_id])

    # -- reading ------------------------------------------------------------------

    def count(self, table: str) -> int:
        """Number of rows in ``table`` (a table of this archive, else ValueError)."""
        with self._lock:
            if not self._table(table).exists():
                raise ValueError(f"no table {table!r} in {self.path}")
            return self._table(table).count

    def captured_articles(self) -> Iterator[CapturedArticle]:
        """Every article that has a WARC capture, with that capture, in ``articles.id`` order."""
        with self._lock:
            rows = list(self.db.query(_CAPTURED_SQL))
        for row in rows:
            yield CapturedArticle(**row)

    # -- sites and crawls -------------------------------------------------------------

    def ensure_site(
        self, site: str, *, name: str | None = None, base_url: str | None = None
    ) -> None:
        """Add a ``sites`` row if missing; fill in ``name``/``base_url`` when given."""
        self._writable()
        with self._tx():
            self._ensure_site(site, name=name, base_url=base_url)

    def _ensure_site(
        self, site: str, *, name: str | None = None, base_url: str | None = None
    ) -> None:
        self.db.execute(
            "INSERT INTO sites (site, name, base_url, first_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(site) DO UPDATE SET "
            "name = coalesce(excluded.name, sites.name), "
            "base_url = coalesce(excluded.base_url, sites.base_url)",
            [site, name, base_url, utc_now()],
        )

    def start_crawl(self, *, spider: str, site: str | None = None, args: dict | None = None) -> int:
        """Record the start of a crawl; return its ``crawls.id``.

        Crawls that never finished (the process was killed) get the outcome "killed": the
        caller holds the archive's lock, so no other crawl can still be running.
        """
        self._writable()
        with self._tx():
            self.db.execute(
                "UPDATE crawls SET outcome = 'killed' WHERE finished IS NULL AND outcome IS NULL"
            )
            if site:
                self._ensure_site(site)
            row = {"spider": spider, "site": site, "args": _dumps(args or {}), "started": utc_now()}
            crawls = self._table("crawls").insert(row)
        return int(crawls.last_pk or 0)  # an INTEGER PRIMARY KEY: always set

    def finish_crawl(
        self,
        crawl_id: int,
        *,
        stats: dict,
        outcome: str,
        pages_skipped: int = 0,
        pages_revisited: int = 0,
    ) -> None:
        """Record the end of a crawl: time, Scrapy stats (JSON), outcome, how many pages were
        skipped without downloading them (unchanged, or not due for a revisit) and how many
        archived pages were asked for again. Recounts ``photo_credits``."""
        self._writable()
        end = {
            "finished": utc_now(),
            "stats": _dumps(stats or {}),
            "outcome": outcome,
            "pages_skipped": pages_skipped,
            "pages_revisited": pages_revisited,
        }
        with self._tx():
            try:
                self._table("crawls").update(crawl_id, end)
            except NotFoundError:
                raise KeyError(f"no crawl {crawl_id}") from None
            refresh_photo_credits(self.db)

    def refresh_photo_credits(self) -> None:
        """Recount ``photo_credits`` (pictures and articles per photographer and agency) from
        ``article_images``; :meth:`finish_crawl` does it, so it holds the counts as of the last
        finished crawl."""
        self._writable()
        with self._tx():
            refresh_photo_credits(self.db)

    def _count_page(self, crawl_id: int | None, status: str) -> None:
        """Add one to the crawl's ``pages_<status>`` (new, changed, unchanged, removed)."""
        if crawl_id is not None:
            self.db.execute(
                f"UPDATE crawls SET pages_{status} = pages_{status} + 1 WHERE id = ?", [crawl_id]
            )

    # -- failures ---------------------------------------------------------------------

    def record_failure(self, failure: CrawlFailure, *, crawl_id: int | None = None) -> None:
        """Upsert a failure: the same url + stage failing again updates its row."""
        self._writable()
        now = utc_now()
        with self._tx():
            self.db.execute(
                "INSERT INTO failures "
                "(url, stage, reason, http_status, crawl_id, first_seen, last_seen, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(url, stage) DO UPDATE SET "
                "reason = excluded.reason, http_status = excluded.http_status, "
                "crawl_id = coalesce(excluded.crawl_id, failures.crawl_id), "
                "last_seen = excluded.last_seen, attempts = failures.attempts + 1",
                [
                    failure.url,
                    failure.stage,
                    failure.reason,
                    failure.http_status,
                    crawl_id,
                    now,
                    now,
                ],
            )

    # -- articles ---------------------------------------------------------------------

    def save_article(
        self,
        article: Article,
        *,
        crawl_id: int | None = None,
        seen_at: str | None = None,
        known_hash: str | None = None,
    ) -> SaveStatus:
        """Store a normalised article (as extraction returns it) with its authors, tags,
        pictures and videos.

        Returns "new", "changed" (the previous values went to ``revisions``) or
        "unchanged" (only ``last_seen`` moves). One transaction. ``known_hash``: the content hash
        another archive recorded for this very content (``newsarchive merge``: a shared video's
        details may have been filled in since, so the hash is not recomputed from them).
        """
        self._writable()
        seen_at = seen_at or utc_now()
        snapshot = content_snapshot(article)
        new_hash = known_hash or content_hash(snapshot)
        with self._tx():
            aid, old_hash = self._row_for(article, article_id(article))
            status: SaveStatus
            if old_hash == new_hash:
                status = "unchanged"
                self.db.execute(
                    "UPDATE articles SET last_seen = max(last_seen, ?), canonical_url = ? WHERE id = ?",
                    [seen_at, article.canonical_url, aid],
                )
            else:
                status = "new" if old_hash is None else "changed"
                if old_hash is not None:
                    self._add_revision(aid, snapshot, old_hash, new_hash, seen_at, crawl_id)
                row = _article_row(aid, article, new_hash, seen_at, crawl_id)
                self._write_article(row, article, is_new=old_hash is None)
            if article.capture_id:
                self._link_capture(aid, article.capture_id, seen_at)
            self._resolve_placements(aid, article)
            self._count_page(crawl_id, status)
        return status

    def _stored_hash(self, aid: str) -> str | None:
        row = self.db.execute("SELECT content_hash FROM articles WHERE id = ?", [aid]).fetchone()
        return row[0] if row else None

    def _link_capture(self, aid: str, capture_id: str, seen_at: str) -> None:
        """The latest capture of the page, when this save is the latest sighting."""
        self.db.execute(
            "UPDATE articles SET capture_id = ? WHERE id = ? AND last_seen = ? "
            "AND EXISTS (SELECT 1 FROM captures WHERE id = ?)",
            [capture_id, aid, seen_at, capture_id],
        )

    def _row_for(self, article: Article, aid: str) -> tuple[str, str | None]:
        """The row an article is saved into, and its stored content hash (None: a new row):
        ``aid``; or, when no row has that id, the row already holding this very fetched URL
        (archived under an identity since ruled out, e.g. another site's rel=canonical, or a
        canonical the page has changed): the page is not archived twice."""
        stored = self._stored_hash(aid)
        if stored is not None:
            return aid, stored
        same_page = self.db.execute(
            "SELECT id, content_hash FROM articles WHERE url = ? ORDER BY first_seen LIMIT 1",
            [article.url],
        ).fetchone()
        return (same_page[0], same_page[1]) if same_page else (aid, None)

    def _write_article(self, row: dict[str, Any], article: Article, *, is_new: bool) -> None:
        """Write the ``articles`` row, then every link table, of a new or changed article."""
        if article.site:
            self._ensure_site(article.site)
        aid, seen_at = row["id"], row["last_seen"]
        if is_new:
            self._insert_rows("articles", [{**row, "first_seen": seen_at}])
        else:
            self._update_row("articles", aid, {c: v for c, v in row.items() if c != "id"})
        self.db.execute(_UPSERT_TEXT, [aid, article.body_text])
        for table in _LINK_TABLES:
            self.db.execute(f"DELETE FROM {table} WHERE article_id = ?", [aid])
        self._link_names(aid, "authors", article.authors)
        self._link_names(aid, "tags", article.tags)
        self._link_images(aid, article.images, seen_at)
        self._link_videos(aid, article.videos, seen_at)

    def _link_names(self, aid: str, table: str, names: list[str]) -> None:
        """Link the article to its ``authors`` or ``tags`` (rows looked up by name), in order."""
        link, key = _NAME_LINKS[table]
        ids = self._name_ids(table, names)
        rows = [
            {"article_id": aid, key: ids[name], "position": position}
            for position, name in enumerate(names)
        ]
        self._insert_rows(link, rows, ignore=True)

    def _name_ids(self, table: str, names: list[str]) -> dict[str, int]:
        """``table.lookup({"name": name})`` of each name without its schema reads (0.28 ms a
        name), in two statements whatever the number of names (a page may have 30 tags); the
        names missing get their rows in the order given."""
        if not names:
            return {}
        self.db.conn.executemany(
            f"INSERT OR IGNORE INTO {table} (name) VALUES (?)", [(name,) for name in names]
        )
        ids: dict[str, int] = {}
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), _NAMES_PER_QUERY):
            chunk = unique[start : start + _NAMES_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT name, id FROM {table} WHERE name IN ({marks})"
            ids.update(self.db.execute(query, chunk).fetchall())
        return ids

    def _link_images(self, aid: str, images: list[Image], seen_at: str) -> None:
        """Link the article to its pictures; what it says about each belongs to this use of it."""
        rows = [
            {
                "article_id": aid,
                "image_id": self._image_row(image, seen_at),
                "position": position,
                "is_lead": int(bool(image.is_lead)),
                "caption": image.caption,
                "credit": image.credit,
                "photographer": image.photographer,
                "agency": image.agency,
                "alt": image.alt,
                "caption_source": image.caption_source,
            }
            for position, image in enumerate(images)
        ]
        self._insert_rows("article_images", rows, ignore=True)

    def _link_videos(self, aid: str, videos: list[Video], seen_at: str) -> None:
        """Upsert each video (a later sighting fills in missing details) and link it."""
        for video in videos:
            self.db.execute(
                _UPSERT_VIDEO,
                [video_key(video), *_video_dict(video).values(), seen_at],
            )
        rows = [
            {"article_id": aid, "video_id": video_key(video), "position": position}
            for position, video in enumerate(videos)
        ]
        self._insert_rows("article_videos", rows, ignore=True)

    def _image_row(self, image: Image, seen_at: str) -> str:
        """Write what is true of a picture's file; return the ``images.id`` it is stored as.

        A URL seen before keeps its row (``image_urls``). A new URL whose downloaded file has
        the perceptual hash of an archived picture is that picture: the URL is linked to the
        existing row, which only gains the facts it lacked. Otherwise the URL gets its own row
        (id: hash of the URL). Captions, credits and alt texts are not here: each article's own
        go to its ``article_images`` row (see :meth:`_link_images`).
        """
        own_id = stable_id(image.url)
        target = self._known_picture(image) or own_id
        capture_id = image.capture_id
        if capture_id and not self._has_row("captures", capture_id):
            capture_id = None
        facts = {
            "width": image.width,
            "height": image.height,
            "capture_id": capture_id,
            **{f: getattr(image, f) for f in _FILE_FIELDS},
        }
        if target == own_id:
            self.db.execute(_UPSERT_IMAGE, [own_id, image.url, *facts.values(), seen_at])
        else:  # a copy of an archived picture: fill what the row lacks
            self.db.execute(
                f"UPDATE images SET {', '.join(f'{c} = coalesce({c}, ?)' for c in facts)} WHERE id = ?",
                [*facts.values(), target],
            )
        url_row = {"url": image.url, "image_id": target, "first_seen": seen_at}
        self._insert_rows("image_urls", [url_row], ignore=True)
        return target

    def _known_picture(self, image: Image) -> str | None:
        """The ``images.id`` already answering for this picture: by its URL, else (a downloaded
        file) by its perceptual hash, the first archived; None if it is new."""
        known = self.db.execute(
            "SELECT image_id FROM image_urls WHERE url = ?", [image.url]
        ).fetchone()
        if known is None and image.phash:
            known = self.db.execute(
                "SELECT id FROM images WHERE phash = ? ORDER BY first_seen, id LIMIT 1",
                [image.phash],
            ).fetchone()
        return known[0] if known else None

    # -- captures and pictures ------------------------------------------------------------

    def record_capture(self, capture: dict[str, Any], *, crawl_id: int | None = None) -> None:
        """Add a ``captures`` row (a :class:`newsarchive.capture.CaptureRef` as a dict); a record
        already there is left as it is."""
        self._writable()
        with self._tx():
            self._insert_rows("captures", [_capture_row(capture, crawl_id)], ignore=True)

    def queue_capture(self, capture: dict[str, Any], *, crawl_id: int | None = None) -> None:
        """:meth:`record_capture` in the next write's transaction rather than one of its own: the
        crawl's page and its capture are then one transaction (``save_article``); a capture no
        page follows goes with the next write, or :meth:`flush_captures` (the crawl calls it every
        second; :meth:`close` does). Until then :meth:`capture` answers from the queue."""
        self._writable()
        row = _capture_row(capture, crawl_id)
        with self._lock:
            self._pending_captures.setdefault(row["id"], row)

    def flush_captures(self) -> None:
        """Write the queued captures (:meth:`queue_capture`) now."""
        with self._lock:
            if self._pending_captures:
                with self._tx():
                    pass  # _tx writes them

    def capture(self, capture_id: str) -> dict[str, Any] | None:
        """The ``captures`` row ``capture_id`` as a dict, or None."""
        with self._lock:
            if capture_id in self._pending_captures:
                return dict(self._pending_captures[capture_id])
            try:
                return self._table("captures").get(capture_id)
            except NotFoundError:
                return None

    def picture_known(self, url: str) -> bool:
        """Whether the picture at ``url`` is archived with its downloaded file's facts."""
        with self._lock:
            return (
                self.db.execute(
                    "SELECT 1 FROM image_urls u JOIN images i ON i.id = u.image_id "
                    "WHERE u.url = ? AND i.sha256 IS NOT NULL",
                    [url],
                ).fetchone()
                is not None
            )

    def current_crawl(self) -> int | None:
        """The id of the latest crawl not finished yet (the one running, for a crawl's helpers)."""
        with self._lock:
            row = self.db.execute("SELECT max(id) FROM crawls WHERE finished IS NULL").fetchone()
        return row[0] if row else None

    # -- revisions ------------------------------------------------------------------------

    def _add_revision(
        self,
        aid: str,
        new: dict[str, Any],
        old_hash: str,
        new_hash: str,
        seen_at: str,
        crawl_id: int | None,
    ) -> None:
        old = self.load_snapshot(aid)
        changed = [f for f in CONTENT_FIELDS if old.get(f) != new.get(f)]
        if not changed:  # e.g. a shared video's details edited through another article
            changed = [f for f in CONTENT_FIELDS if f in ("images", "videos")]
        corrections = new_corrections(old.get("body_text"), new.get("body_text"))
        self._insert_revision(
            aid,
            seen_at,
            crawl_id,
            old_values={f: old.get(f) for f in changed},
            hashes=(old_hash, new_hash),
            diff=readable_diff(old, new) or None,
            corrections=_dumps(corrections) if corrections else None,
        )

    def _insert_revision(
        self,
        aid: str,
        seen_at: str,
        crawl_id: int | None,
        *,
        old_values: dict[str, Any],
        hashes: tuple[str, str],
        diff: str | None,
        corrections: str | None = None,
    ) -> None:
        """A ``revisions`` row: the fields that changed and their previous values."""
        row = {
            "article_id": aid,
            "seen_at": seen_at,
            "crawl_id": crawl_id,
            "changed_fields": _dumps(list(old_values)),
            "old_values": _dumps(old_values),
            "old_content_hash": hashes[0],
            "new_content_hash": hashes[1],
            "diff": diff,
            "corrections": corrections,
        }
        self._insert_rows("revisions", [row])

    def load_snapshot(self, aid: str) -> dict[str, Any]:
        """The stored content of article ``aid`` in :func:`content_snapshot` form."""
        row = next(self.db.query(_SCALARS_SQL, [aid]), None)
        if row is None:
            raise KeyError(aid)
        snap = dict(row)
        snap["authors"] = self._names(aid, "authors")
        snap["tags"] = self._names(aid, "tags")
        images = self.db.query(_IMAGE_USES_SQL, [aid])
        snap["images"] = [{**image, "is_lead": bool(image["is_lead"])} for image in images]
        snap["videos"] = list(self.db.query(_VIDEO_USES_SQL, [aid]))
        return snap

    def _names(self, aid: str, table: str) -> list[str]:
        """The article's ``authors`` or ``tags`` names, in order."""
        link, key = _NAME_LINKS[table]
        return [
            name
            for (name,) in self.db.execute(
                f"SELECT n.name FROM {link} l JOIN {table} n ON n.id = l.{key} "
                "WHERE l.article_id = ? ORDER BY l.position",
                [aid],
            )
        ]

    # -- incremental crawls and removed pages ------------------------------------------

    def known_pages(self, *, site: str | None = None) -> dict[str, KnownPage]:
        """Archived pages (of ``site``, or all) keyed by their URL and by their canonical URL."""
        sql = (
            "SELECT id AS article_id, url, canonical_url, http_etag AS etag, "
            "http_last_modified AS last_modified, source_date, last_seen, removed_at, published, "
            "modified, first_seen FROM articles" + (" WHERE site = ?" if site else "")
        )
        known: dict[str, KnownPage] = {}
        with self._lock:
            for row in self.db.query(sql, [site] if site else []):
                canonical = row.pop("canonical_url")
                page = KnownPage(**row)
                for key in {page.url, canonical, canonical_url(page.url)} - {None}:
                    known[key] = page
        return known

    def _find_article(self, url: str) -> str | None:
        row = self.db.execute(
            "SELECT id FROM articles WHERE url = ? OR canonical_url = ? OR canonical_url = ? LIMIT 1",
            [url, url, canonical_url(url)],
        ).fetchone()
        return row[0] if row else None

    def touch_article(
        self,
        url: str,
        *,
        article_id: str | None = None,
        crawl_id: int | None = None,
        seen_at: str | None = None,
    ) -> bool:
        """Record that an archived page was seen unchanged (HTTP 304); False if it is not archived.
        ``article_id`` (from :meth:`known_pages`) names the row when the URL alone does not."""
        self._writable()
        with self._tx():
            aid = article_id or self._find_article(url)
            cursor = self.db.execute(
                "UPDATE articles SET last_seen = max(last_seen, ?), removed_at = NULL, "
                "removed_reason = NULL WHERE id = ?",
                [seen_at or utc_now(), aid],
            )
            if cursor.rowcount == 0:
                return False
            self._count_page(crawl_id, "unchanged")
        return True

    def mark_removed(
        self,
        url: str,
        *,
        reason: str,
        article_id: str | None = None,
        crawl_id: int | None = None,
        seen_at: str | None = None,
    ) -> bool:
        """Record that an archived page is gone (404, 410, redirected elsewhere): the row stays,
        with ``removed_at`` and ``removed_reason``, and a revision says when. False if the URL is
        not archived or already marked removed."""
        self._writable()
        seen_at = seen_at or utc_now()
        with self._tx():
            aid = article_id or self._find_article(url)
            if aid is None or not self._has_row("articles", aid):
                return False
            row = self._table("articles").get(aid)
            if row["removed_at"] is not None:
                return False
            removed = {"removed_at": seen_at, "removed_reason": reason}
            self._update_row("articles", aid, removed)
            self._insert_revision(
                aid,
                seen_at,
                crawl_id,
                old_values={"removed_at": None},
                hashes=(row["content_hash"], row["content_hash"]),
                diff=f"removed: {reason}",
            )
            self._count_page(crawl_id, "removed")
        return True

    # -- video transcripts (issue 14, part 3) -------------------------------------------------

    def save_transcript(
        self, transcript: Transcript, *, crawl_id: int | None = None, seen_at: str | None = None
    ) -> SaveStatus:
        """Store a video's transcript (one language and kind) with its segments.

        "new", "changed" (text or segments differ: the segments are replaced) or "unchanged"
        (only ``last_seen`` moves). The ``videos`` row is added when the transcript arrives
        before the article that embeds the video (the article fills in its details).
        """
        self._writable()
        seen_at = seen_at or utc_now()
        tid = transcript_key(transcript)
        row = _transcript_row(tid, transcript, crawl_id, seen_at)
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO videos (id, provider, video_id, url, first_seen) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    row["video_id"],
                    transcript.provider,
                    transcript.video_id,
                    transcript.video_url,
                    seen_at,
                ],
            )
            if row["capture_id"] and not self._has_row("captures", row["capture_id"]):
                row["capture_id"] = None
            status = self._transcript_status(tid, transcript)
            if status == "new":
                self._insert_rows("transcripts", [{**row, "first_seen": seen_at}])
            else:
                self._update_row("transcripts", tid, {c: v for c, v in row.items() if c != "id"})
            if status != "unchanged":
                self._write_segments(tid, transcript)
        return status

    def _transcript_status(self, tid: str, transcript: Transcript) -> SaveStatus:
        """Whether the stored transcript ``tid`` is missing, different or the same."""
        stored = self.db.execute(
            "SELECT start_s, duration_s, text FROM transcript_segments "
            "WHERE transcript_id = ? ORDER BY position",
            [tid],
        ).fetchall()
        if not stored and not self._has_row("transcripts", tid):
            return "new"
        new = [(s.start_s, s.duration_s, s.text) for s in transcript.segments]
        return "unchanged" if stored == new else "changed"

    def _write_segments(self, tid: str, transcript: Transcript) -> None:
        self.db.execute("DELETE FROM transcript_segments WHERE transcript_id = ?", [tid])
        rows = [
            {
                "transcript_id": tid,
                "position": position,
                "start_s": segment.start_s,
                "duration_s": segment.duration_s,
                "text": segment.text,
            }
            for position, segment in enumerate(transcript.segments)
        ]
        self._insert_rows("transcript_segments", rows)

    def captured_transcripts(self) -> list[CapturedTranscript]:
        """Every transcript with the WARC capture of its timed text (for re-extraction)."""
        with self._lock:
            rows = list(self.db.query(_CAPTURED_TRANSCRIPTS_SQL))
        return [
            CapturedTranscript(
                transcript=Transcript(
                    provider=row["provider"],
                    video_id=row["provider_video_id"],
                    video_url=row["video_url"],
                    language=row["language"],
                    kind=row["kind"],
                    url=row["source_url"] or row["capture_url"],
                    name=row["name"],
                    capture_id=row["capture_id"],
                ),
                warc_file=row["warc_file"],
                warc_offset=row["warc_offset"],
            )
            for row in rows
        ]

    def transcribed_videos(self) -> set[str]:
        """``videos.id`` of every video that has at least one transcript."""
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT DISTINCT video_id FROM transcripts")}

    # -- placements (front and section pages; constants above the class) ------------------

    def save_front_page(
        self, page: FrontPage, *, crawl_id: int | None = None, seen_at: str | None = None
    ) -> int | None:
        """Record one capture of a front or section page and its placements (one transaction).

        A placement seen at the same rank and slot as in the page's previous capture extends
        that run (``last_seen``, ``sightings``); any other starts a new run. Returns the
        ``placement_pages.id``, or None when this very capture is recorded already (a replay of
        the crawl into the same archive).
        """
        self._writable()
        seen_at = seen_at or utc_now()
        with self._tx():
            capture_id = self._known_capture(page.capture_id)
            if (
                capture_id
                and self.db.execute(
                    "SELECT 1 FROM placement_pages WHERE capture_id = ?", [capture_id]
                ).fetchone()
            ):
                return None
            previous = self._previous_page_capture(page.page, seen_at)
            cursor = self.db.execute(
                "INSERT INTO placement_pages (page, is_home, seen_at, crawl_id, capture_id, links) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [page.page, int(page.is_home), seen_at, crawl_id, capture_id, len(page.placements)],
            )
            page_id = int(cursor.lastrowid or 0)
            runs = self._open_runs(previous, seen_at) if previous else {}
            self._write_placements(page, page_id, runs, seen_at, crawl_id)
        return page_id

    def _known_capture(self, capture_id: str | None) -> str | None:
        if not capture_id:
            return None
        found = self.db.execute("SELECT 1 FROM captures WHERE id = ?", [capture_id]).fetchone()
        return capture_id if found else None

    def _previous_page_capture(self, page: str, seen_at: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM placement_pages WHERE page = ? AND seen_at <= ? "
            "ORDER BY seen_at DESC, id DESC LIMIT 1",
            [page, seen_at],
        ).fetchone()
        return row[0] if row else None

    def _open_runs(self, page_id: int, seen_at: str) -> dict[RunKey, int]:
        """The runs that the page's previous capture ended, young enough to go on."""
        oldest = (dt.datetime.fromisoformat(seen_at) - PLACEMENT_RUN_MAX).isoformat()
        rows = self.db.execute(
            "SELECT id, article_url, rank, slot FROM placements "
            "WHERE last_page_id = ? AND first_seen > ?",
            [page_id, oldest],
        )
        return {(url, rank, slot): run_id for run_id, url, rank, slot in rows}

    def _write_placements(
        self,
        page: FrontPage,
        page_id: int,
        runs: dict[RunKey, int],
        seen_at: str,
        crawl_id: int | None,
    ) -> None:
        extended, started = [], []
        for placement in page.placements:
            run = runs.get((placement.article_url, placement.rank, placement.slot))
            if run is not None:
                extended.append((seen_at, crawl_id, page_id, run))
                continue
            started.append(
                (page.page, placement.article_url, self._archived_id(placement), placement.rank,
                 placement.slot, placement.headline, seen_at, seen_at, crawl_id, crawl_id,
                 page_id, page_id)
            )  # fmt: skip
        self.db.conn.executemany(_EXTEND_RUN, extended)
        self.db.conn.executemany(_insert_sql("placements", _PLACEMENT_COLUMNS), started)

    def _archived_id(self, placement: Placement) -> str | None:
        """The ``articles.id`` of a placed article already archived, else None."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE canonical_url = ? UNION ALL "
            "SELECT id FROM articles WHERE url IN (?, ?) LIMIT 1",
            [placement.article_url, placement.article_url, placement.url],
        ).fetchone()
        return row[0] if row else None

    def _resolve_placements(self, aid: str, article: Article) -> None:
        """Placements of this article recorded before it was archived now name its row: matched
        on ``placements.article_url`` (indexed) by the article's canonical URL, the canonical
        form of its fetched URL and of the URL a redirect came from."""
        redirected = article.fetch.redirected_from if article.fetch else None
        found = (article.canonical_url, canonical_url(article.url), canonical_url(redirected))
        urls = sorted({url for url in found if url})
        if urls:
            self.db.execute(
                "UPDATE placements SET article_id = ? WHERE article_id IS NULL "
                f"AND article_url IN ({', '.join('?' * len(urls))})",
                [aid, *urls],
            )


_CAPTURED_TRANSCRIPTS_SQL = (
    "SELECT v.provider, v.video_id AS provider_video_id, v.url AS video_url, t.language, t.kind, "
    "t.name, t.source_url, c.id AS capture_id, c.url AS capture_url, c.warc_file, c.warc_offset "
    "FROM transcripts t JOIN videos v ON v.id = t.video_id JOIN captures c ON c.id = t.capture_id "
    "ORDER BY t.id"
)


@dataclass(frozen=True)
class CapturedTranscript:
    """A stored transcript (without its segments) and where its timed text is captured."""

    transcript: Transcript
    """The transcript as stored, ``segments`` empty: re-extraction reads them again."""
    warc_file: str
    """The WARC file, relative to the captures folder (or absolute)."""
    warc_offset: int
    """Byte offset of the timed text's response record in ``warc_file``."""


def transcript_key(transcript: Transcript) -> str:
    """``transcripts.id``: ``provider:video_id:language:kind`` (``youtube:GJLlxj_dtq8:en:auto``)."""
    return f"{transcript.provider}:{transcript.video_id}:{transcript.language}:{transcript.kind}"


def _transcript_row(
    tid: str, transcript: Transcript, crawl_id: int | None, seen_at: str
) -> dict[str, Any]:
    """The ``transcripts`` row of a transcript (without ``first_seen``)."""
    return {
        "id": tid,
        "video_id": video_key(transcript),
        "language": transcript.language,
        "kind": transcript.kind,
        "name": transcript.name,
        "text": " ".join(segment.text for segment in transcript.segments),
        "segment_count": len(transcript.segments),
        "source_url": transcript.url,
        "capture_id": transcript.capture_id,
        "crawl_id": crawl_id,
        "last_seen": seen_at,
    }
