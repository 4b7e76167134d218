"""``Archive``: the one SQLite file a crawl writes and Datasette serves.

Every write is idempotent: saving the same article twice leaves identical rows
except ``articles.last_seen``. A changed article is updated in place and its
previous values are kept as a ``revisions`` row.
"""

from __future__ import annotations

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
from typing import Any

import sqlite_utils

from newsarchive.history import find_corrections, new_corrections, readable_diff
from newsarchive.items import Article, CrawlFailure, Image, Video
from newsarchive.processors import canonical_url, normalize_article
from newsarchive.store.schema import SCHEMA_VERSION, migrate, pending_migrations, schema_version


class ArchiveError(Exception):
    """Base class of the archive's own errors."""


class ReadOnlyArchiveError(ArchiveError):
    """A write was attempted on an archive opened with ``readonly=True``."""


class SchemaVersionError(ArchiveError):
    """The file's schema is not the version this code reads (read-only open)."""


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
_VIDEO_FIELDS = (
    "provider",
    "video_id",
    "url",
    "title",
    "description",
    "duration_s",
    "published",
    "thumbnail_url",
    "channel",
)
_MONTH = re.compile(r"^(\d{4}-\d{2})")
_HASH_LEN = 16  # hex characters of SHA-256: 64 bits


def utc_now() -> str:
    """Now, ISO 8601 in UTC with seconds (``2024-05-01T12:00:00+00:00``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def stable_id(value: str) -> str:
    """A stable short hash of a URL: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:_HASH_LEN]


def article_id(article: Article) -> str:
    """The ``articles.id`` of an article: hash of its canonical URL, else its URL."""
    return stable_id(article.canonical_url or article.url)


def video_key(video: Video) -> str:
    return f"{video.provider}:{video.video_id}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def content_snapshot(article: Article) -> dict[str, Any]:
    """The normalised content of an article that revisions track."""
    return {
        "kind": article.kind,
        "title": article.title,
        "description": article.description,
        "authors": list(article.authors),
        "published": article.published,
        "modified": article.modified,
        "published_raw": article.published_raw,
        "modified_raw": article.modified_raw,
        "section": article.section,
        "tags": list(article.tags),
        "language": article.language,
        "body_text": article.body_text,
        "images": [_image_dict(i) for i in article.images],
        "videos": [_video_dict(v) for v in article.videos],
    }


def _image_dict(image: Image) -> dict[str, Any]:
    d = {f: getattr(image, f) for f in _IMAGE_FIELDS}
    d["is_lead"] = bool(d["is_lead"])
    return d


def _video_dict(video: Video) -> dict[str, Any]:
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
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(self.path)
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            self.db = sqlite_utils.Database(conn)
            self._pragmas()
            version = schema_version(self.db)
            if version != SCHEMA_VERSION or pending_migrations(self.db):
                self.db.close()
                raise SchemaVersionError(
                    f"{self.path} has schema version {version}, this code reads {SCHEMA_VERSION}"
                )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(
                sqlite3.connect(str(self.path), check_same_thread=False)
            )
            self.db.enable_wal()
            self._pragmas()
            # Under WAL, NORMAL syncs at checkpoints, not at every commit: a power loss (not a
            # crash of the process) may lose the last transactions, never corrupt the file.
            self.db.conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self.db)

    def _pragmas(self) -> None:
        self.db.conn.execute("PRAGMA foreign_keys = ON")
        self.db.conn.execute("PRAGMA busy_timeout = 10000")

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
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
        """One transaction, holding the lock (nested calls become savepoints)."""
        with self._lock, self.db.atomic():
            yield

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyArchiveError(f"{self.path} was opened read-only")

    # -- reading ------------------------------------------------------------------

    def count(self, table: str) -> int:
        """Number of rows in ``table`` (a table of this archive, else ValueError)."""
        with self._lock:
            if table not in self.db.table_names():
                raise ValueError(f"no table {table!r} in {self.path}")
            return self.db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]

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
            cursor = self.db.execute(
                "INSERT INTO crawls (spider, site, args, started) VALUES (?, ?, ?, ?)",
                [spider, site, _dumps(args or {}), utc_now()],
            )
            return cursor.lastrowid

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
        archived pages were asked for again."""
        self._writable()
        with self._tx():
            cursor = self.db.execute(
                "UPDATE crawls SET finished = ?, stats = ?, outcome = ?, pages_skipped = ?, pages_revisited = ? "
                "WHERE id = ?",
                [utc_now(), _dumps(stats or {}), outcome, pages_skipped, pages_revisited, crawl_id],
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no crawl {crawl_id}")

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
        normalized: bool = False,
    ) -> str:
        """Store an article with its authors, tags, pictures and videos.

        Returns "new", "changed" (the previous values went to ``revisions``) or
        "unchanged" (only ``last_seen`` moves). One transaction. ``normalized=True``: the caller
        has already passed the article through ``normalize_article`` (about 1 ms a page).
        """
        self._writable()
        if not normalized:
            article = normalize_article(article)
        seen_at = seen_at or utc_now()
        aid = article_id(article)
        snapshot = content_snapshot(article)
        new_hash = content_hash(snapshot)
        with self._tx():
            aid = self._row_for(article, aid)
            existing = self.db.execute(
                "SELECT content_hash FROM articles WHERE id = ?", [aid]
            ).fetchone()
            if existing is not None and existing[0] == new_hash:
                self.db.execute(
                    "UPDATE articles SET last_seen = max(last_seen, ?), canonical_url = ? WHERE id = ?",
                    [seen_at, article.canonical_url, aid],
                )
                status = "unchanged"
            else:
                if article.site:
                    self._ensure_site(article.site)
                if existing is None:
                    status = "new"
                else:
                    status = "changed"
                    self._add_revision(aid, snapshot, existing[0], new_hash, seen_at, crawl_id)
                self._write_article(
                    aid, article, new_hash, seen_at, crawl_id, is_new=existing is None
                )
                self._write_links(aid, article, seen_at)
            if article.capture_id:
                # The latest capture of the page, when this save is the latest sighting.
                self.db.execute(
                    "UPDATE articles SET capture_id = ? WHERE id = ? AND last_seen = ? "
                    "AND EXISTS (SELECT 1 FROM captures WHERE id = ?)",
                    [article.capture_id, aid, seen_at, article.capture_id],
                )
            if crawl_id is not None:
                self.db.execute(
                    f"UPDATE crawls SET pages_{status} = pages_{status} + 1 WHERE id = ?",
                    [crawl_id],
                )
        return status

    def _row_for(self, article: Article, aid: str) -> str:
        """The row an article is saved into: ``aid``; or, when no row has that id, the row already
        holding this very fetched URL (archived under an identity since ruled out, e.g. another
        site's rel=canonical, or a canonical the page has changed): the page is not archived twice."""
        if self.db.execute("SELECT 1 FROM articles WHERE id = ?", [aid]).fetchone():
            return aid
        same_page = self.db.execute(
            "SELECT id FROM articles WHERE url = ? ORDER BY first_seen LIMIT 1", [article.url]
        ).fetchone()
        return same_page[0] if same_page else aid

    def _write_article(
        self,
        aid: str,
        article: Article,
        chash: str,
        seen_at: str,
        crawl_id: int | None,
        *,
        is_new: bool,
    ) -> None:
        month = _MONTH.match(article.published or "")
        row = {
            "id": aid,
            "url": article.url,
            "canonical_url": article.canonical_url,
            "site": article.site,
            "kind": article.kind,
            "title": article.title,
            "description": article.description,
            "published": article.published,
            "modified": article.modified,
            "published_raw": article.published_raw,
            "modified_raw": article.modified_raw,
            "published_month": month.group(1) if month else None,
            "section": article.section,
            "language": article.language,
            "body_text": article.body_text,
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
        if is_new:
            row["first_seen"] = seen_at
            cols = list(row)
            self.db.execute(
                f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols],
            )
        else:
            cols = [c for c in row if c != "id"]
            self.db.execute(
                f"UPDATE articles SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                [row[c] for c in cols] + [aid],
            )

    def _write_links(self, aid: str, article: Article, seen_at: str) -> None:
        for table in ("article_authors", "article_tags", "article_images", "article_videos"):
            self.db.execute(f"DELETE FROM {table} WHERE article_id = ?", [aid])
        for position, name in enumerate(article.authors):
            author_id = self._name_id("authors", name)
            self.db.execute(
                "INSERT OR IGNORE INTO article_authors (article_id, author_id, position) VALUES (?, ?, ?)",
                [aid, author_id, position],
            )
        for position, name in enumerate(article.tags):
            tag_id = self._name_id("tags", name)
            self.db.execute(
                "INSERT OR IGNORE INTO article_tags (article_id, tag_id, position) VALUES (?, ?, ?)",
                [aid, tag_id, position],
            )
        for position, image in enumerate(article.images):
            image_id = self._image_row(image, seen_at)
            # What this article says about the picture belongs to this use of it.
            self.db.execute(
                "INSERT OR IGNORE INTO article_images (article_id, image_id, position, is_lead, caption, credit, "
                "photographer, agency, alt, caption_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    aid,
                    image_id,
                    position,
                    int(bool(image.is_lead)),
                    image.caption,
                    image.credit,
                    image.photographer,
                    image.agency,
                    image.alt,
                    image.caption_source,
                ],
            )
        for position, video in enumerate(article.videos):
            vid = video_key(video)
            self.db.execute(
                "INSERT INTO videos (id, provider, video_id, url, title, description, duration_s, published, "
                "thumbnail_url, channel, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET url = excluded.url, "
                "title = coalesce(excluded.title, videos.title), "
                "description = coalesce(excluded.description, videos.description), "
                "duration_s = coalesce(excluded.duration_s, videos.duration_s), "
                "published = coalesce(excluded.published, videos.published), "
                "thumbnail_url = coalesce(excluded.thumbnail_url, videos.thumbnail_url), "
                "channel = coalesce(excluded.channel, videos.channel)",
                [
                    vid,
                    video.provider,
                    video.video_id,
                    video.url,
                    video.title,
                    video.description,
                    video.duration_s,
                    video.published,
                    video.thumbnail_url,
                    video.channel,
                    seen_at,
                ],
            )
            self.db.execute(
                "INSERT OR IGNORE INTO article_videos (article_id, video_id, position) VALUES (?, ?, ?)",
                [aid, vid, position],
            )

    def _image_row(self, image: Image, seen_at: str) -> str:
        """Write what is true of a picture's file; return the ``images.id`` it is stored as.

        A URL seen before keeps its row (``image_urls``). A new URL whose downloaded file has
        the perceptual hash of an archived picture is that picture: the URL is linked to the
        existing row, which only gains the facts it lacked. Otherwise the URL gets its own row
        (id: hash of the URL). Captions, credits and alt texts are not here: each article's own
        go to its ``article_images`` row (see :meth:`_write_links`).
        """
        own_id = stable_id(image.url)
        known = self.db.execute(
            "SELECT image_id FROM image_urls WHERE url = ?", [image.url]
        ).fetchone()
        target = known[0] if known else None
        if target is None and image.phash:
            same = self.db.execute(
                "SELECT id FROM images WHERE phash = ? ORDER BY first_seen, id LIMIT 1",
                [image.phash],
            ).fetchone()
            target = same[0] if same else None
        target = target or own_id
        capture_id = image.capture_id
        if (
            capture_id
            and not self.db.execute("SELECT 1 FROM captures WHERE id = ?", [capture_id]).fetchone()
        ):
            capture_id = None
        declared = {"width": image.width, "height": image.height}
        facts = {
            "capture_id": capture_id,
            "file_format": image.file_format,
            "file_width": image.file_width,
            "file_height": image.file_height,
            "file_bytes": image.file_bytes,
            "sha256": image.sha256,
            "phash": image.phash,
            "file_path": image.file_path,
            "thumbnail": image.thumbnail,
        }
        if target == own_id:
            cols = ["id", "url", *declared, *facts, "first_seen"]
            values = [own_id, image.url, *declared.values(), *facts.values(), seen_at]
            updates = [f"{c} = coalesce(excluded.{c}, images.{c})" for c in declared]
            updates += [
                f"{c} = coalesce(images.{c}, excluded.{c})" for c in facts if c != "capture_id"
            ]
            updates.append("capture_id = coalesce(excluded.capture_id, images.capture_id)")
            self.db.execute(
                f"INSERT INTO images ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT(id) DO UPDATE SET {', '.join(updates)}",
                values,
            )
        else:  # a copy of an archived picture: fill what the row lacks
            fill = {**declared, **facts}
            self.db.execute(
                f"UPDATE images SET {', '.join(f'{c} = coalesce({c}, ?)' for c in fill)} WHERE id = ?",
                [*fill.values(), target],
            )
        self.db.execute(
            "INSERT OR IGNORE INTO image_urls (url, image_id, first_seen) VALUES (?, ?, ?)",
            [image.url, target, seen_at],
        )
        return target

    # -- captures and pictures ------------------------------------------------------------

    def record_capture(self, capture: dict[str, Any], *, crawl_id: int | None = None) -> None:
        """Add a ``captures`` row (a :class:`newsarchive.capture.CaptureRef` as a dict); a record
        already there is left as it is."""
        self._writable()
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO captures (id, url, warc_file, warc_offset, warc_length, payload_digest, "
                "warc_date, status, content_type, crawl_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    capture["id"],
                    capture["url"],
                    capture["warc_file"],
                    capture["offset"],
                    capture["length"],
                    capture.get("payload_digest"),
                    capture["warc_date"],
                    capture.get("status"),
                    capture.get("content_type"),
                    crawl_id,
                ],
            )

    def capture(self, capture_id: str) -> dict[str, Any] | None:
        """The ``captures`` row ``capture_id`` as a dict, or None."""
        with self._lock:
            rows = list(self.db.query("SELECT * FROM captures WHERE id = ?", [capture_id]))
        return rows[0] if rows else None

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

    def _name_id(self, table: str, name: str) -> int:
        self.db.execute(f"INSERT OR IGNORE INTO {table} (name) VALUES (?)", [name])
        return self.db.execute(f"SELECT id FROM {table} WHERE name = ?", [name]).fetchone()[0]

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
        self.db.execute(
            "INSERT INTO revisions (article_id, seen_at, crawl_id, changed_fields, old_values, "
            "old_content_hash, new_content_hash, diff, corrections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                aid,
                seen_at,
                crawl_id,
                _dumps(changed),
                _dumps({f: old.get(f) for f in changed}),
                old_hash,
                new_hash,
                readable_diff(old, new) or None,
                _dumps(corrections) if corrections else None,
            ],
        )

    # -- incremental crawls and removed pages ------------------------------------------

    def known_pages(self, *, site: str | None = None) -> dict[str, KnownPage]:
        """Archived pages (of ``site``, or all) keyed by their URL and by their canonical URL."""
        sql = (
            "SELECT id, url, canonical_url, http_etag, http_last_modified, source_date, last_seen, removed_at, "
            "published, modified, first_seen FROM articles" + (" WHERE site = ?" if site else "")
        )
        known: dict[str, KnownPage] = {}
        with self._lock:
            for (
                aid,
                url,
                canonical,
                etag,
                http_modified,
                source_date,
                last_seen,
                removed,
                published,
                modified,
                first_seen,
            ) in self.db.execute(sql, [site] if site else []):
                page = KnownPage(
                    aid,
                    etag,
                    http_modified,
                    source_date,
                    last_seen,
                    removed,
                    url=url,
                    published=published,
                    modified=modified,
                    first_seen=first_seen,
                )
                for key in {url, canonical, canonical_url(url)} - {None}:
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
        seen_at = seen_at or utc_now()
        with self._tx():
            aid = article_id or self._find_article(url)
            cursor = self.db.execute(
                "UPDATE articles SET last_seen = max(last_seen, ?), removed_at = NULL, "
                "removed_reason = NULL WHERE id = ?",
                [seen_at, aid],
            )
            if cursor.rowcount == 0:
                return False
            if crawl_id is not None:
                self.db.execute(
                    "UPDATE crawls SET pages_unchanged = pages_unchanged + 1 WHERE id = ?",
                    [crawl_id],
                )
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
            row = self.db.execute(
                "SELECT removed_at, content_hash FROM articles WHERE id = ?", [aid]
            ).fetchone()
            if row is None or row[0] is not None:
                return False
            self.db.execute(
                "UPDATE articles SET removed_at = ?, removed_reason = ? WHERE id = ?",
                [seen_at, reason, aid],
            )
            self.db.execute(
                "INSERT INTO revisions (article_id, seen_at, crawl_id, changed_fields, old_values, "
                "old_content_hash, new_content_hash, diff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    aid,
                    seen_at,
                    crawl_id,
                    _dumps(["removed_at"]),
                    _dumps({"removed_at": None}),
                    row[1],
                    row[1],
                    f"removed: {reason}",
                ],
            )
            if crawl_id is not None:
                self.db.execute(
                    "UPDATE crawls SET pages_removed = pages_removed + 1 WHERE id = ?", [crawl_id]
                )
        return True

    def load_snapshot(self, aid: str) -> dict[str, Any]:
        """The stored content of article ``aid`` in :func:`content_snapshot` form."""
        row = self.db.execute(
            "SELECT kind, title, description, published, modified, published_raw, modified_raw, "
            "section, language, body_text FROM articles WHERE id = ?",
            [aid],
        ).fetchone()
        if row is None:
            raise KeyError(aid)
        keys = (
            "kind",
            "title",
            "description",
            "published",
            "modified",
            "published_raw",
            "modified_raw",
            "section",
            "language",
            "body_text",
        )
        snap: dict[str, Any] = dict(zip(keys, row, strict=False))
        snap["authors"] = [
            r[0]
            for r in self.db.execute(
                "SELECT a.name FROM article_authors aa JOIN authors a ON a.id = aa.author_id "
                "WHERE aa.article_id = ? ORDER BY aa.position",
                [aid],
            )
        ]
        snap["tags"] = [
            r[0]
            for r in self.db.execute(
                "SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id "
                "WHERE at.article_id = ? ORDER BY at.position",
                [aid],
            )
        ]
        snap["images"] = [
            dict(zip(_IMAGE_FIELDS, (*r[:9], bool(r[9])), strict=False))
            for r in self.db.execute(
                "SELECT i.url, ai.caption, ai.credit, ai.photographer, ai.agency, ai.alt, i.width, i.height, "
                "ai.position, ai.is_lead FROM article_images ai JOIN images i ON i.id = ai.image_id "
                "WHERE ai.article_id = ? ORDER BY ai.position",
                [aid],
            )
        ]
        snap["videos"] = [
            dict(zip(_VIDEO_FIELDS, r, strict=False))
            for r in self.db.execute(
                "SELECT v.provider, v.video_id, v.url, v.title, v.description, v.duration_s, v.published, "
                "v.thumbnail_url, v.channel FROM article_videos av JOIN videos v ON v.id = av.video_id "
                "WHERE av.article_id = ? ORDER BY av.position",
                [aid],
            )
        ]
        return snap


__all__ = [
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "ReadOnlyArchiveError",
    "SchemaVersionError",
    "article_id",
    "stable_id",
    "utc_now",
]
