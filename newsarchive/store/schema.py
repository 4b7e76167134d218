"""The archive's schema, created and migrated by code.

``MIGRATIONS`` is an ordered list of functions; migration *n* (1-based) brings a
database from schema version *n - 1* to *n*. The version reached is recorded in
``PRAGMA user_version`` and in the ``meta`` table (``key = 'schema_version'``).
To change the schema, append a function: never edit one that has shipped.

Why not ``sqlite_utils.migrations.Migrations`` (sqlite-utils 4.2): it was written and it passed
the store's tests, but the runner grew from 26 lines (``schema_version``, ``pending_migrations``,
``migrate`` below) to 62. It records applied migrations by name in a ``_sqlite_migrations``
table, so every archive made before needed an adoption step (turn ``user_version`` into named
rows), the read-only open needed a fallback for files without the table, the version lived in
two places, and the new table had to be described in Datasette's metadata and the schema doc.
The own runner is kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

#: FTS5 tokenizer: Porter stemming ("floods" finds "flood", "flooded"), accents folded.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

#: (table, columns) indexed with FTS5 in the current schema; kept in sync by triggers.
FTS_TABLES: dict[str, tuple[str, ...]] = {
    "articles": ("title", "description", "body_text"),
    "article_images": ("caption", "credit", "alt"),
    "videos": ("title", "description"),
    # Version 9 (video transcripts):
    "transcripts": ("text",),
    "transcript_segments": ("text",),
}
#: The FTS5 indexes version 1 created (a shipped migration never changes).
_V1_FTS_TABLES: dict[str, tuple[str, ...]] = {
    "articles": ("title", "description", "body_text"),
    "images": ("caption", "credit", "alt"),
    "videos": ("title", "description"),
}


def _link_table(link: str, key: str, other: str, *, key_type: str = "TEXT", extra: str = "") -> str:
    """The DDL of a table linking articles to ``other`` rows, in page order."""
    return f"""CREATE TABLE {link} (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    {key} {key_type} NOT NULL REFERENCES {other}(id),
    position INTEGER NOT NULL,{extra}
    PRIMARY KEY (article_id, {key})
);
CREATE INDEX idx_{link}_{key} ON {link}({key});"""


def _name_table(table: str, link: str, key: str) -> str:
    """The DDL of a table of names (authors, tags) and of its link to articles."""
    return f"""CREATE TABLE {table} (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
{_link_table(link, key, table, key_type="INTEGER")}"""


def _add_columns(table: str, columns: dict[str, str]) -> str:
    """``ALTER TABLE table ADD COLUMN name type`` for each of ``columns``."""
    return "".join(
        f"ALTER TABLE {table} ADD COLUMN {name} {ctype};\n" for name, ctype in columns.items()
    )


_V1_DDL = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE sites (
    site TEXT PRIMARY KEY,
    name TEXT,
    base_url TEXT,
    first_seen TEXT
);
CREATE TABLE crawls (
    id INTEGER PRIMARY KEY,
    spider TEXT NOT NULL,
    site TEXT REFERENCES sites(site),
    args TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    stats TEXT,
    outcome TEXT,
    pages_new INTEGER NOT NULL DEFAULT 0,
    pages_changed INTEGER NOT NULL DEFAULT 0,
    pages_unchanged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    canonical_url TEXT,
    site TEXT REFERENCES sites(site),
    kind TEXT NOT NULL DEFAULT 'article',
    title TEXT,
    description TEXT,
    published TEXT,
    modified TEXT,
    published_raw TEXT,
    modified_raw TEXT,
    published_month TEXT,
    section TEXT,
    language TEXT,
    body_text TEXT,
    authors_text TEXT,
    tags_text TEXT,
    word_count INTEGER,
    content_hash TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    crawl_id INTEGER REFERENCES crawls(id)
);
CREATE INDEX idx_articles_site ON articles(site);
CREATE INDEX idx_articles_published ON articles(published);
CREATE INDEX idx_articles_published_month ON articles(published_month);
CREATE INDEX idx_articles_section ON articles(section);
CREATE INDEX idx_articles_crawl_id ON articles(crawl_id);
{authors}
{tags}
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    caption TEXT,
    credit TEXT,
    photographer TEXT,
    agency TEXT,
    alt TEXT,
    width INTEGER,
    height INTEGER,
    first_seen TEXT NOT NULL
);
CREATE INDEX idx_images_credit ON images(credit);
CREATE INDEX idx_images_photographer ON images(photographer);
CREATE INDEX idx_images_agency ON images(agency);
{article_images}
CREATE TABLE videos (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    video_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    description TEXT,
    duration_s INTEGER,
    published TEXT,
    thumbnail_url TEXT,
    channel TEXT,
    first_seen TEXT NOT NULL
);
{article_videos}
CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT,
    http_status INTEGER,
    crawl_id INTEGER REFERENCES crawls(id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX idx_failures_url_stage ON failures(url, stage);
CREATE INDEX idx_failures_crawl_id ON failures(crawl_id);
CREATE TABLE revisions (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    seen_at TEXT NOT NULL,
    crawl_id INTEGER REFERENCES crawls(id),
    changed_fields TEXT NOT NULL,
    old_values TEXT NOT NULL,
    old_content_hash TEXT,
    new_content_hash TEXT
);
CREATE INDEX idx_revisions_article_id ON revisions(article_id);
""".format(
    authors=_name_table("authors", "article_authors", "author_id"),
    tags=_name_table("tags", "article_tags", "tag_id"),
    article_images=_link_table(
        "article_images", "image_id", "images", extra="\n    is_lead INTEGER NOT NULL DEFAULT 0,"
    ),
    article_videos=_link_table("article_videos", "video_id", "videos"),
)


def _execute_all(db: sqlite_utils.Database, ddl: str) -> None:
    """Run each statement of ``ddl`` inside the migration's transaction (``executescript``
    would commit it)."""
    for statement in ddl.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1_initial(db: sqlite_utils.Database) -> None:
    """Version 1: every table, foreign key, index and the FTS5 indexes."""
    _execute_all(db, _V1_DDL)
    for table, columns in _V1_FTS_TABLES.items():
        db.table(table).enable_fts(
            list(columns), fts_version="FTS5", create_triggers=True, tokenize=FTS_TOKENIZE
        )


_COUNTER = "INTEGER NOT NULL DEFAULT 0"

_V2_DDL = (
    _add_columns(
        "articles",
        {
            "http_etag": "TEXT",
            "http_last_modified": "TEXT",
            "source_date": "TEXT",
            "removed_at": "TEXT",
            "removed_reason": "TEXT",
            "has_correction": _COUNTER,
        },
    )
    + _add_columns("revisions", {"diff": "TEXT", "corrections": "TEXT"})
    + _add_columns("crawls", {"pages_skipped": _COUNTER, "pages_removed": _COUNTER})
    + """CREATE INDEX idx_articles_url ON articles(url);
CREATE INDEX idx_articles_canonical_url ON articles(canonical_url);
CREATE INDEX idx_revisions_seen_at ON revisions(seen_at);
"""
)


def _v2_history(db: sqlite_utils.Database) -> None:
    """Version 2: HTTP validators and source dates for incremental crawls, removed pages,
    readable revision diffs and flagged corrections, skipped and removed counts per crawl."""
    _execute_all(db, _V2_DDL)


_V3_DDL = """
CREATE TABLE captures (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    warc_file TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    warc_length INTEGER NOT NULL,
    payload_digest TEXT,
    warc_date TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    crawl_id INTEGER REFERENCES crawls(id)
);
CREATE INDEX idx_captures_url ON captures(url);
CREATE INDEX idx_captures_crawl_id ON captures(crawl_id);
{capture_columns}CREATE INDEX idx_images_phash ON images(phash);
CREATE INDEX idx_images_sha256 ON images(sha256);
CREATE INDEX idx_articles_capture_id ON articles(capture_id);
CREATE INDEX idx_images_capture_id ON images(capture_id);
CREATE TABLE image_urls (
    url TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id),
    first_seen TEXT NOT NULL
);
CREATE INDEX idx_image_urls_image_id ON image_urls(image_id);
INSERT OR IGNORE INTO image_urls (url, image_id, first_seen) SELECT url, id, first_seen FROM images;
""".format(
    capture_columns=_add_columns("articles", {"capture_id": "TEXT REFERENCES captures(id)"})
    + _add_columns(
        "images",
        {
            "capture_id": "TEXT REFERENCES captures(id)",
            "file_format": "TEXT",
            "file_width": "INTEGER",
            "file_height": "INTEGER",
            "file_bytes": "INTEGER",
            "sha256": "TEXT",
            "phash": "TEXT",
            "file_path": "TEXT",
            "thumbnail": "BLOB",
        },
    )
)


def _v3_captures(db: sqlite_utils.Database) -> None:
    """Version 3: WARC captures (``captures``, ``capture_id`` on articles and images), facts of
    downloaded pictures (format, size, SHA-256, perceptual hash, file, thumbnail) and
    ``image_urls`` (every URL a picture row answers for: merged copies included)."""
    _execute_all(db, _V3_DDL)


#: What a page says about a picture where it uses it: per use since version 4.
USE_COLUMNS = ("caption", "credit", "photographer", "agency", "alt")

_V4_DDL = (
    _add_columns("article_images", dict.fromkeys((*USE_COLUMNS, "caption_source"), "TEXT"))
    + """UPDATE article_images SET (caption, credit, photographer, agency, alt) = (
    SELECT images.caption, images.credit, images.photographer, images.agency, images.alt
    FROM images WHERE images.id = article_images.image_id);
DROP INDEX idx_images_credit;
DROP INDEX idx_images_photographer;
DROP INDEX idx_images_agency;
CREATE INDEX idx_article_images_credit ON article_images(credit);
CREATE INDEX idx_article_images_photographer ON article_images(photographer);
CREATE INDEX idx_article_images_agency ON article_images(agency);
"""
)


def _v4_captions_per_use(db: sqlite_utils.Database) -> None:
    """Version 4: a picture's caption, credit, photographer, agency and alt belong to each article
    that uses it (``article_images``, with ``caption_source``), not to the file: ``images`` keeps
    what is true of the file. Today's values are copied to every use; search moves with them
    (``article_images_fts`` replaces ``images_fts``)."""
    _execute_all(db, _V4_DDL)
    db.table("images").disable_fts()
    for column in USE_COLUMNS:
        db.execute(f"ALTER TABLE images DROP COLUMN {column}")
    db.table("article_images").enable_fts(
        list(FTS_TABLES["article_images"]),
        fts_version="FTS5",
        create_triggers=True,
        tokenize=FTS_TOKENIZE,
    )


_V5_DDL = _add_columns("crawls", {"pages_revisited": _COUNTER})


def _v5_revisits(db: sqlite_utils.Database) -> None:
    """Version 5: how many archived pages each crawl asked for again (``crawls.pages_revisited``)."""
    _execute_all(db, _V5_DDL)


#: Indexes for what Datasette pages and canned queries filter, sort and count by (measured with
#: benchmarks/bench_datasette.py; docs/performance.md). A default facet is a GROUP BY over its
#: column: with an index it reads the index, not the table's rows (4 kB bodies each).
_V6_DDL = """
CREATE INDEX idx_articles_kind ON articles(kind);
CREATE INDEX idx_articles_language ON articles(language);
CREATE INDEX idx_articles_has_correction ON articles(has_correction);
CREATE INDEX idx_articles_date ON articles(coalesce(published, first_seen));
DROP INDEX idx_articles_published_month;
CREATE INDEX idx_articles_published_month_site ON articles(published_month, site);
CREATE INDEX idx_article_images_photographer_agency ON article_images(photographer, agency);
CREATE INDEX idx_captures_warc_date ON captures(warc_date);
"""


def _v6_reading_indexes(db: sqlite_utils.Database) -> None:
    """Version 6: indexes for Datasette's default facets, sorts and canned queries."""
    _execute_all(db, _V6_DDL)


#: The columns of ``articles`` from version 7 on: version 6's without ``body_text`` (in
#: ``article_texts``), in their order.
_V7_ARTICLES_DDL = """CREATE TABLE articles_v7 (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    canonical_url TEXT,
    site TEXT REFERENCES sites(site),
    kind TEXT NOT NULL DEFAULT 'article',
    title TEXT,
    description TEXT,
    published TEXT,
    modified TEXT,
    published_raw TEXT,
    modified_raw TEXT,
    published_month TEXT,
    section TEXT,
    language TEXT,
    authors_text TEXT,
    tags_text TEXT,
    word_count INTEGER,
    content_hash TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    crawl_id INTEGER REFERENCES crawls(id),
    http_etag TEXT,
    http_last_modified TEXT,
    source_date TEXT,
    removed_at TEXT,
    removed_reason TEXT,
    has_correction INTEGER NOT NULL DEFAULT 0,
    capture_id TEXT REFERENCES captures(id)
)"""

#: Each article's text, one row per article (version 7).
_V7_TEXTS_DDL = """CREATE TABLE article_texts (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    body_text TEXT
)"""

#: What ``articles_fts`` indexes from version 7 on: an article's title and description with its
#: text. ``rowid`` is the ``articles`` row's, so Datasette's table search and the joins on
#: ``articles.rowid = articles_fts.rowid`` work as before.
_V7_SEARCH_VIEW = """CREATE VIEW article_search AS
SELECT articles.rowid AS rowid, articles.title AS title, articles.description AS description,
    article_texts.body_text AS body_text
FROM articles LEFT JOIN article_texts ON article_texts.article_id = articles.id"""

_V7_FTS_DDL = f"""CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, description, body_text,
    tokenize='{FTS_TOKENIZE}',
    content='article_search', content_rowid='rowid'
)"""

# An external-content FTS5 entry is removed by repeating exactly the values it indexed: each
# trigger reads the other table's current values, so the entry stays "title and description of
# articles + body_text of article_texts" whatever the order of the writes. The row of a deleted
# article is unindexed BEFORE the delete (its text, deleted by the cascade, is still there).
_FTS_DELETE = "INSERT INTO articles_fts (articles_fts, rowid, title, description, body_text)"
_FTS_INSERT = "INSERT INTO articles_fts (rowid, title, description, body_text)"
_TEXT_OF = "(SELECT body_text FROM article_texts WHERE article_id = {}.id)"
_V7_TRIGGERS = f"""CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
  {_FTS_INSERT} VALUES (new.rowid, new.title, new.description, {_TEXT_OF.format("new")});
END;
CREATE TRIGGER articles_fts_bd BEFORE DELETE ON articles BEGIN
  {_FTS_DELETE} VALUES ('delete', old.rowid, old.title, old.description, {_TEXT_OF.format("old")});
END;
CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, description ON articles
WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
  {_FTS_DELETE} VALUES ('delete', old.rowid, old.title, old.description, {_TEXT_OF.format("old")});
  {_FTS_INSERT} VALUES (new.rowid, new.title, new.description, {_TEXT_OF.format("new")});
END;
CREATE TRIGGER article_texts_fts_ai AFTER INSERT ON article_texts BEGIN
  {_FTS_DELETE} SELECT 'delete', rowid, title, description, NULL FROM articles
    WHERE id = new.article_id;
  {_FTS_INSERT} SELECT rowid, title, description, new.body_text FROM articles
    WHERE id = new.article_id;
END;
CREATE TRIGGER article_texts_fts_au AFTER UPDATE ON article_texts
WHEN old.body_text IS NOT new.body_text BEGIN
  {_FTS_DELETE} SELECT 'delete', rowid, title, description, old.body_text FROM articles
    WHERE id = old.article_id;
  {_FTS_INSERT} SELECT rowid, title, description, new.body_text FROM articles
    WHERE id = new.article_id;
END;
CREATE TRIGGER article_texts_fts_ad AFTER DELETE ON article_texts BEGIN
  {_FTS_DELETE} SELECT 'delete', rowid, title, description, old.body_text FROM articles
    WHERE id = old.article_id;
  {_FTS_INSERT} SELECT rowid, title, description, NULL FROM articles WHERE id = old.article_id;
END""".split(";\nCREATE ")

#: Version 7's summary of picture credits (see :func:`refresh_photo_credits`).
_V7_CREDITS_DDL = """CREATE TABLE photo_credits (
    photographer TEXT,
    agency TEXT,
    pictures INTEGER NOT NULL,
    articles INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT
);
CREATE INDEX idx_photo_credits_pictures ON photo_credits(pictures)"""

#: Counts per photographer and agency over every use of a picture (what the canned query
#: ``photographers`` lists): a GROUP BY over all of ``article_images``, too slow to run per page
#: view at a million articles, so the store keeps its result in ``photo_credits``.
PHOTO_CREDITS_SQL = """INSERT INTO photo_credits
    (photographer, agency, pictures, articles, first_seen, last_seen)
SELECT article_images.photographer, article_images.agency,
    count(DISTINCT article_images.image_id), count(DISTINCT article_images.article_id),
    min(images.first_seen), max(images.first_seen)
FROM article_images JOIN images ON images.id = article_images.image_id
WHERE article_images.photographer IS NOT NULL OR article_images.agency IS NOT NULL
GROUP BY article_images.photographer, article_images.agency"""


def refresh_photo_credits(db: sqlite_utils.Database) -> None:
    """Recount ``photo_credits`` from ``article_images`` (in the caller's transaction)."""
    db.execute("DELETE FROM photo_credits")
    db.execute(PHOTO_CREDITS_SQL)


def _v7_rebuild_articles(db: sqlite_utils.Database) -> None:
    """Copy ``articles`` without ``body_text`` into a new, densely packed table (``DROP COLUMN``
    would leave each shrunken row alone on its page), keeping rowids, ids and indexes."""
    indexes = [
        sql
        for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'articles' "
            "AND sql IS NOT NULL"
        )
    ]
    columns = ", ".join(
        row[1] for row in db.execute("PRAGMA table_info(articles)") if row[1] != "body_text"
    )
    db.execute(_V7_ARTICLES_DDL)
    db.execute(
        f"INSERT INTO articles_v7 (rowid, {columns}) SELECT rowid, {columns} FROM articles "
        "ORDER BY rowid"
    )
    db.execute("DROP TABLE articles")
    db.execute("ALTER TABLE articles_v7 RENAME TO articles")
    for sql in indexes:
        db.execute(sql)


def _v7_article_texts(db: sqlite_utils.Database) -> None:
    """Version 7: an article's text moves to ``article_texts`` (one row per article), so the
    ``articles`` rows a search counts, sorts and facets are small; ``articles_fts`` indexes the
    ``article_search`` view of both; ``photo_credits`` keeps the counts of ``photographers``.

    Run with foreign keys off (see :func:`migrate`): ``articles`` is rebuilt."""
    for suffix in ("ai", "ad", "au"):
        db.execute(f"DROP TRIGGER IF EXISTS articles_{suffix}")
    db.execute("DROP TABLE articles_fts")
    db.execute(_V7_TEXTS_DDL)
    db.execute(
        "INSERT INTO article_texts (article_id, body_text) SELECT id, body_text FROM articles"
    )
    _v7_rebuild_articles(db)
    db.execute(_V7_SEARCH_VIEW)
    db.execute(_V7_FTS_DDL)
    for number, trigger in enumerate(_V7_TRIGGERS):
        db.execute(trigger if number == 0 else f"CREATE {trigger}")
    _execute_all(db, _V7_CREDITS_DDL)
    broken = db.execute("PRAGMA foreign_key_check(article_texts)").fetchmany(1)
    if broken:
        raise RuntimeError(f"article_texts lost its article: {broken[0]}")
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
    refresh_photo_credits(db)


# -- placements (issue 14, part 2) -------------------------------------------------------------
# This migration reads and writes only its own new tables.

#: ``placement_pages``: one row per capture of a front or section page (small: pages × crawls).
#: ``placements``: one row per *run*: consecutive captures of a page that show an article at the
#: same rank in the same slot; a run is cut after ``archive.PLACEMENT_RUN_MAX`` so that "what was
#: on the page at T" reads a bounded stretch of the (page, first_seen) index.
_V8_DDL = """
CREATE TABLE placement_pages (
    id INTEGER PRIMARY KEY,
    page TEXT NOT NULL,
    is_home INTEGER NOT NULL DEFAULT 0,
    seen_at TEXT NOT NULL,
    crawl_id INTEGER REFERENCES crawls(id),
    capture_id TEXT REFERENCES captures(id),
    links INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_placement_pages_page_seen_at ON placement_pages(page, seen_at);
CREATE INDEX idx_placement_pages_home_seen_at ON placement_pages(is_home, seen_at);
CREATE INDEX idx_placement_pages_crawl_id ON placement_pages(crawl_id);
CREATE UNIQUE INDEX idx_placement_pages_capture_id ON placement_pages(capture_id)
    WHERE capture_id IS NOT NULL;
CREATE TABLE placements (
    id INTEGER PRIMARY KEY,
    page TEXT NOT NULL,
    article_url TEXT NOT NULL,
    article_id TEXT REFERENCES articles(id),
    rank INTEGER NOT NULL,
    slot TEXT,
    headline TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sightings INTEGER NOT NULL DEFAULT 1,
    first_crawl_id INTEGER REFERENCES crawls(id),
    last_crawl_id INTEGER REFERENCES crawls(id),
    first_page_id INTEGER NOT NULL REFERENCES placement_pages(id),
    last_page_id INTEGER NOT NULL REFERENCES placement_pages(id)
);
CREATE INDEX idx_placements_page_first_seen ON placements(page, first_seen);
CREATE INDEX idx_placements_article_url ON placements(article_url);
CREATE INDEX idx_placements_article_id ON placements(article_id);
CREATE INDEX idx_placements_last_page_id ON placements(last_page_id);
"""


def _v8_placements(db: sqlite_utils.Database) -> None:
    """Version 8: front and section pages as each crawl saw them (``placement_pages``) and the
    articles they placed, rank and slot, as runs of unchanged placement (``placements``)."""
    _execute_all(db, _V8_DDL)


# -- version 9: video transcripts (issue 14, part 3) --------------------------------------

_V9_DDL = """
CREATE TABLE transcripts (
    id TEXT PRIMARY KEY,
    video_id TEXT NOT NULL REFERENCES videos(id),
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    segment_count INTEGER NOT NULL,
    source_url TEXT,
    capture_id TEXT REFERENCES captures(id),
    crawl_id INTEGER REFERENCES crawls(id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX idx_transcripts_video_id ON transcripts(video_id);
CREATE TABLE transcript_segments (
    id INTEGER PRIMARY KEY,
    transcript_id TEXT NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    start_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_transcript_segments_transcript_position
    ON transcript_segments(transcript_id, position);
"""


def _v9_transcripts(db: sqlite_utils.Database) -> None:
    """Version 9: what is said in archived videos: ``transcripts`` (one per video, language and
    kind, with the joined text) and their timed ``transcript_segments``, both searchable."""
    _execute_all(db, _V9_DDL)
    for table in ("transcripts", "transcript_segments"):
        db.table(table).enable_fts(
            ["text"], fts_version="FTS5", create_triggers=True, tokenize=FTS_TOKENIZE
        )


# -- version 10: merged shards (issue 15, one writer) -------------------------------------

_V10_DDL = """
CREATE TABLE merged_shards (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    merged_at TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    crawls INTEGER NOT NULL DEFAULT 0,
    articles INTEGER NOT NULL DEFAULT 0,
    captures INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
);
"""


def _v10_merged_shards(db: sqlite_utils.Database) -> None:
    """Version 10: the shard archives folded into this one by ``newsarchive merge``
    (``merged_shards``, by the SHA-256 of the shard file), so that a shard is merged once."""
    _execute_all(db, _V10_DDL)


# -- version 11: indexes for the articles table filtered by a facet click (issue 13) -------

#: A facet click filters ``articles`` by one column; the table page then lists that value's
#: articles newest first (``sort_desc`` published) and groups them by its default facets (site,
#: section, month). One index per column a journalist filters by: (column, published) serves the
#: page in order, and the other facet columns make it covering, so the facets and the count read
#: the index, not the rows. They replace the one-column indexes (a prefix of each), which cost
#: as much to scan for an unfiltered facet. Measured in docs/performance.md (fifth round).
_V11_DDL = """
DROP INDEX IF EXISTS idx_articles_site;
CREATE INDEX IF NOT EXISTS idx_articles_site_published
    ON articles(site, published, section, published_month);
DROP INDEX IF EXISTS idx_articles_section;
CREATE INDEX IF NOT EXISTS idx_articles_section_published
    ON articles(section, published, site, published_month);
DROP INDEX IF EXISTS idx_articles_language;
CREATE INDEX IF NOT EXISTS idx_articles_language_published
    ON articles(language, published, site, section, published_month);
DROP INDEX IF EXISTS idx_articles_kind;
CREATE INDEX IF NOT EXISTS idx_articles_kind_published
    ON articles(kind, published, site, section, published_month);
"""


def _v11_filter_indexes(db: sqlite_utils.Database) -> None:
    """Version 11: covering indexes for the articles table filtered by a site, section,
    language or kind, sorted by date and faceted. (Versions 11 and 12 may run again on a file
    that has them: a shard whose version was set back by hand, as tests/test_merge.py does.)"""
    _execute_all(db, _V11_DDL)


# -- version 12: the pictures several articles use, kept by triggers (issue 13) ------------

#: The canned query ``photos_reused_across_sites`` starts from the pictures two or more articles
#: use; finding them by grouping every ``article_images`` row cost 0.4-0.7 s at 1M (1.5 million
#: uses). Triggers keep that set as uses are written (an article's uses are deleted and inserted
#: again when it changes), so the query reads only the reused pictures' uses.
_V12_DDL = """
CREATE TABLE IF NOT EXISTS reused_images (
    image_id TEXT PRIMARY KEY REFERENCES images(id)
);
INSERT OR IGNORE INTO reused_images (image_id)
    SELECT image_id FROM article_images GROUP BY image_id HAVING count(*) > 1;
CREATE TRIGGER IF NOT EXISTS reused_images_ai AFTER INSERT ON article_images
WHEN (SELECT count(*) FROM (SELECT 1 FROM article_images WHERE image_id = new.image_id LIMIT 2)) > 1
BEGIN
    INSERT OR IGNORE INTO reused_images (image_id) VALUES (new.image_id);
END;
CREATE TRIGGER IF NOT EXISTS reused_images_ad AFTER DELETE ON article_images
WHEN (SELECT count(*) FROM (SELECT 1 FROM article_images WHERE image_id = old.image_id LIMIT 2)) < 2
BEGIN
    DELETE FROM reused_images WHERE image_id = old.image_id;
END;
CREATE TRIGGER IF NOT EXISTS reused_images_au AFTER UPDATE OF image_id ON article_images
BEGIN
    DELETE FROM reused_images WHERE image_id = old.image_id AND (SELECT count(*) FROM (
        SELECT 1 FROM article_images WHERE image_id = old.image_id LIMIT 2)) < 2;
    INSERT OR IGNORE INTO reused_images (image_id) SELECT new.image_id WHERE (SELECT count(*) FROM (
        SELECT 1 FROM article_images WHERE image_id = new.image_id LIMIT 2)) > 1;
END;
"""


def _execute_statements(db: sqlite_utils.Database, ddl: str) -> None:
    """Like :func:`_execute_all` for DDL whose statements hold semicolons (a trigger's body):
    split where SQLite says a statement is complete."""
    statement = ""
    for line in ddl.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:80]}")


def _v12_reused_images(db: sqlite_utils.Database) -> None:
    """Version 12: ``reused_images``, the pictures two or more articles use, kept by triggers
    on ``article_images``."""
    _execute_statements(db, _V12_DDL)


# -- version 13: the articles table's default facets, counted by triggers (issue 13) --------

#: The columns the articles table facets by default (metadata.json) and the columns whose single
#: equality filter keeps most of the archive (``?kind=article``: every article; ``?language=en``:
#: 43 %). Datasette grouped up to a million index entries per facet (100-200 ms each at 1M);
#: triggers keep the counts so a page reads at most a few hundred rows
#: (:mod:`newsarchive.datasette.facets`).
COUNTED_FACETS = ("site", "section", "published_month")
COUNTED_FILTERS = ("kind", "language")
#: ``filter_column`` and ``filter_value`` of the counts of the whole, unfiltered table.
UNFILTERED = ""


def _counted_rows(row: str) -> str:
    """A SELECT of the (filter column, filter value, facet column, value) keys ``row`` (``new``
    or ``old``) counts in: the unfiltered table and each counted filter, by each counted facet;
    no key with a NULL value (a facet leaves NULLs out, an equality filter never matches one)."""
    filters = " UNION ALL ".join(
        [f"SELECT '{UNFILTERED}' AS fc, '{UNFILTERED}' AS fv"]
        + [f"SELECT '{column}', {row}.{column}" for column in COUNTED_FILTERS]
    )
    facets = " UNION ALL ".join(
        [f"SELECT '{column}' AS col, {row}.{column} AS val" for column in COUNTED_FACETS]
    )
    return (
        f"SELECT fc, fv, col, val FROM ({filters}) JOIN ({facets}) "
        "WHERE fv IS NOT NULL AND val IS NOT NULL"
    )


def _count_in(row: str) -> str:
    return (
        "INSERT INTO facet_counts (filter_column, filter_value, facet_column, value, count) "
        f"SELECT fc, fv, col, val, 1 FROM ({_counted_rows(row)}) WHERE true "
        "ON CONFLICT DO UPDATE SET count = count + 1;"
    )


def _count_out(row: str) -> str:
    keys = "(filter_column, filter_value, facet_column, value)"
    return (
        f"UPDATE facet_counts SET count = count - 1 WHERE {keys} IN ({_counted_rows(row)});\n"
        f"    DELETE FROM facet_counts WHERE count <= 0 AND {keys} IN ({_counted_rows(row)});"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _v13_ddl() -> str:
    columns = COUNTED_FACETS + COUNTED_FILTERS
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
    fill = "\n".join(
        "INSERT INTO facet_counts (filter_column, filter_value, facet_column, value, count) "
        f"SELECT {_quote(fc)}, {fv}, '{column}', {column}, count(*) FROM articles "
        f"WHERE {fv} IS NOT NULL AND {column} IS NOT NULL GROUP BY {fv}, {column};"
        for fc, fv in [(UNFILTERED, _quote(UNFILTERED))] + [(c, c) for c in COUNTED_FILTERS]
        for column in COUNTED_FACETS
    )
    return f"""
CREATE TABLE IF NOT EXISTS facet_counts (
    filter_column TEXT NOT NULL,
    filter_value TEXT NOT NULL,
    facet_column TEXT NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (filter_column, filter_value, facet_column, value)
);
DELETE FROM facet_counts;
{fill}
CREATE TRIGGER IF NOT EXISTS facet_counts_ai AFTER INSERT ON articles BEGIN
    {_count_in("new")}
END;
CREATE TRIGGER IF NOT EXISTS facet_counts_ad AFTER DELETE ON articles BEGIN
    {_count_out("old")}
END;
CREATE TRIGGER IF NOT EXISTS facet_counts_au AFTER UPDATE OF {", ".join(columns)} ON articles
WHEN {changed}
BEGIN
    {_count_out("old")}
    {_count_in("new")}
END;
"""


def _v13_facet_counts(db: sqlite_utils.Database) -> None:
    """Version 13: ``facet_counts``, the articles table's default facets for the whole table
    and for each value of a counted filter, kept by triggers on ``articles``. (It may run again:
    the counts are filled afresh.)"""
    _execute_statements(db, _v13_ddl())


# -- version 14: the next page of a table sorted by date (issue 13) -------------------------

#: Datasette pages a table sorted by a column (``articles`` by ``published``, ``captures`` by
#: ``warc_date``, newest first) from the last row's value and primary key: ``WHERE (published <
#: :v OR published IS NULL OR (published = :v AND id > :id)) ORDER BY published DESC, id``. With
#: only an index on the date, SQLite answers the OR from three index searches and sorts every
#: row they find: the second page of the articles table took 3.9 s at 1M articles (over the
#: time limit: HTTP 400). An index in that very order (date descending, then the key) is walked
#: from the cursor instead: 1 ms. It replaces the one-column index, its prefix.
_V14_DDL = """
CREATE INDEX IF NOT EXISTS idx_articles_published_id ON articles(published DESC, id);
DROP INDEX IF EXISTS idx_articles_published;
CREATE INDEX IF NOT EXISTS idx_captures_warc_date_id ON captures(warc_date DESC, id);
DROP INDEX IF EXISTS idx_captures_warc_date;
"""


def _v14_next_page_indexes(db: sqlite_utils.Database) -> None:
    """Version 14: indexes in the order Datasette pages the date-sorted tables (may run again)."""
    _execute_all(db, _V14_DDL)


# -- version 15: the articles table sorted by a column header (issue 13) -------------------

#: The articles table's sortable columns that no index started with: a click on their header
#: sorted the whole table (at 1M articles: ``first_seen`` 738 ms, ``title`` 427 ms, their next
#: pages as slow). One ``(column DESC, id)`` index each serves both directions: descending walks
#: it in Datasette's order, ascending walks it backwards and sorts only the ties by id.
_V15_SORTED = ("modified", "first_seen", "last_seen", "word_count", "title")


def _v15_sort_indexes(db: sqlite_utils.Database) -> None:
    """Version 15: an index for each sortable column of ``articles`` (may run again)."""
    for column in _V15_SORTED:
        db.execute(
            f"CREATE INDEX IF NOT EXISTS idx_articles_{column}_id ON articles({column} DESC, id)"
        )


# -- version 16: a search narrowed by a facet's value, inside the index (issue 13) -----------

#: The columns of ``articles`` whose value ``articles_fts`` also indexes, one token per value
#: (:func:`filter_token`): the default facets and counted filters, the values a journalist
#: narrows a search by. A table search of a word in 650,000 of a million articles narrowed to
#: one site built the set of all 650,000 matches and looked each of the site's articles up in
#: it (its count 171-259 ms, the page as long again); with the site's token the index
#: intersects the two lists of rowids itself (at 100k: 17.7 → 1.1 ms for the count).
SEARCH_FILTER_COLUMNS = COUNTED_FACETS + COUNTED_FILTERS
#: Around a filter token: a private-use character, which the FTS5 tokenizer keeps inside a token
#: and no text or typed search contains, so only a search that asks for a token finds it (not a
#: search for ``bbc``, nor for its hex or a prefix of it such as ``6262*``).
_TOKEN_MARK = "\ue000"


def filter_token(column: str, value: str) -> str:
    """The token ``articles_fts`` holds for an article whose ``column`` equals ``value``: the
    column's number and the value's UTF-8 bytes in hex between two marks, so that only equal
    values share a token, whatever their case, accents or stem. (The SQL of the same:
    :func:`_filter_tokens_sql`.)"""
    number = SEARCH_FILTER_COLUMNS.index(column)
    return f"{_TOKEN_MARK}{number}{value.encode('utf-8').hex()}{_TOKEN_MARK}"


def _filter_tokens_sql(row: str) -> str:
    """SQL of the filter tokens of ``row`` (``new``, ``old``, ``articles``), space-separated; no
    token for a NULL value (whose ``hex`` is ``''``, as an empty text's). SQLite's ``hex`` of a
    text is its UTF-8 in upper case, which the tokenizer folds as it folds a search's."""
    mark = f"char({ord(_TOKEN_MARK)})"
    return "\n    || ' ' || ".join(
        f"CASE WHEN {row}.{column} IS NULL THEN '' "
        f"ELSE {mark} || '{number}' || hex({row}.{column}) || {mark} END"
        for number, column in enumerate(SEARCH_FILTER_COLUMNS)
    )


_V16_INDEXED = "title, description, body_text, filter_tokens"
_V16_FTS_DELETE = f"INSERT INTO articles_fts (articles_fts, rowid, {_V16_INDEXED})"
_V16_FTS_INSERT = f"INSERT INTO articles_fts (rowid, {_V16_INDEXED})"


def _v16_entry(row: str) -> str:
    """The values ``articles_fts`` indexes for ``row`` (``new``, ``old``) of ``articles``."""
    return (
        f"{row}.rowid, {row}.title, {row}.description, "
        f"(SELECT body_text FROM article_texts WHERE article_id = {row}.id), "
        f"{_filter_tokens_sql(row)}"
    )


def _v16_text_trigger(
    name: str, event: str, gone: str, text: str, row: str, *, when: str = ""
) -> str:
    """A trigger on ``article_texts`` that indexes ``row``'s article again: out with the text
    ``gone``, in with ``text``."""
    current = _filter_tokens_sql("articles")
    return f"""
CREATE TRIGGER {name} {event} ON article_texts {f"WHEN {when} " if when else ""}BEGIN
  {_V16_FTS_DELETE} SELECT 'delete', rowid, title, description, {gone}, {current}
    FROM articles WHERE id = {row}.article_id;
  {_V16_FTS_INSERT} SELECT rowid, title, description, {text}, {current}
    FROM articles WHERE id = {row}.article_id;
END;"""


def _v16_ddl() -> str:
    """Version 7's view, index and triggers (see there), with the filter tokens."""
    watched = ("title", "description", *SEARCH_FILTER_COLUMNS)
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in watched)
    text_triggers = (
        _v16_text_trigger("article_texts_fts_ai", "AFTER INSERT", "NULL", "new.body_text", "new")
        + _v16_text_trigger(
            "article_texts_fts_au",
            "AFTER UPDATE",
            "old.body_text",
            "new.body_text",
            "old",
            when="old.body_text IS NOT new.body_text",
        )
        + _v16_text_trigger("article_texts_fts_ad", "AFTER DELETE", "old.body_text", "NULL", "old")
    )
    return f"""
CREATE VIEW article_search AS
SELECT articles.rowid AS rowid, articles.title AS title, articles.description AS description,
    article_texts.body_text AS body_text, {_filter_tokens_sql("articles")} AS filter_tokens
FROM articles LEFT JOIN article_texts ON article_texts.article_id = articles.id;
CREATE VIRTUAL TABLE articles_fts USING fts5(
    {_V16_INDEXED},
    tokenize='{FTS_TOKENIZE}',
    content='article_search', content_rowid='rowid'
);
CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
  {_V16_FTS_INSERT} VALUES ({_v16_entry("new")});
END;
CREATE TRIGGER articles_fts_bd BEFORE DELETE ON articles BEGIN
  {_V16_FTS_DELETE} VALUES ('delete', {_v16_entry("old")});
END;
CREATE TRIGGER articles_fts_au AFTER UPDATE OF {", ".join(watched)} ON articles
WHEN {changed} BEGIN
  {_V16_FTS_DELETE} VALUES ('delete', {_v16_entry("old")});
  {_V16_FTS_INSERT} VALUES ({_v16_entry("new")});
END;
{text_triggers}
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
"""


def _v16_search_filters(db: sqlite_utils.Database) -> None:
    """Version 16: ``articles_fts`` also indexes each article's :data:`SEARCH_FILTER_COLUMNS`
    (``filter_tokens``), rebuilt from ``article_search`` (at a million articles: minutes)."""
    for trigger in ("ai", "bd", "au"):
        db.execute(f"DROP TRIGGER IF EXISTS articles_fts_{trigger}")
    for trigger in ("ai", "au", "ad"):
        db.execute(f"DROP TRIGGER IF EXISTS article_texts_fts_{trigger}")
    db.execute("DROP TABLE IF EXISTS articles_fts")
    db.execute("DROP VIEW IF EXISTS article_search")
    _execute_statements(db, _v16_ddl())


Migration = Callable[[sqlite_utils.Database], None]

#: Ordered migrations; index i brings the schema from version i to i + 1.
MIGRATIONS: list[Migration] = [
    _v1_initial,
    _v2_history,
    _v3_captures,
    _v4_captions_per_use,
    _v5_revisits,
    _v6_reading_indexes,
    _v7_article_texts,
    _v8_placements,
    _v9_transcripts,
    _v10_merged_shards,
    _v11_filter_indexes,
    _v12_reused_images,
    _v13_facet_counts,
    _v14_next_page_indexes,
    _v15_sort_indexes,
    _v16_search_filters,
]

#: The schema version this code creates.
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def pending_migrations(db: sqlite_utils.Database) -> list[int]:
    """The numbers of the migrations this code has that ``db`` lacks, in order."""
    return list(range(schema_version(db) + 1, SCHEMA_VERSION + 1))


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every pending migration, each in its own transaction; return the version.

    Foreign keys are off while migrations run (SQLite's procedure for rebuilding a table: a
    ``DROP TABLE`` would otherwise cascade); a migration that rebuilds one checks its keys."""
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"archive schema version {version} is newer than this code ({SCHEMA_VERSION})"
        )
    pending = pending_migrations(db)
    if not pending:
        return SCHEMA_VERSION
    foreign_keys = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        for number in pending:
            _apply(db, number)
    finally:
        db.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")
    return SCHEMA_VERSION


def _apply(db: sqlite_utils.Database, number: int) -> None:
    """Migration ``number`` and the version it reaches, in one transaction."""
    with db.atomic():
        MIGRATIONS[number - 1](db)
        db.execute(f"PRAGMA user_version = {number}")
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [str(number)],
        )
