"""Archives written by older code upgrade to the current schema.

The files are built from the schema as shipped at versions 1, 5 and 6 (``tests/fixtures/store/
schema_vN.sql``, dumped from sqlite_master of the migrations at those versions, so that a later
change to the migration code cannot change what an old file looks like), with rows in them. Opened
with ``Archive`` they end with exactly the schema of a new file and every row readable as before.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsarchive.items import Article, Image, Video
from newsarchive.processors import normalize_article
from newsarchive.store import FTS_TABLES, SCHEMA_VERSION, Archive, SchemaVersionError, stable_id
from newsarchive.store.archive import content_hash, content_snapshot
from newsarchive.store.schema import SEARCH_FILTER_COLUMNS, filter_token

FIXTURES = Path(__file__).parent / "fixtures" / "store"
PICTURE = "https://cdn.example.com/harbour.jpg"


def stored_article() -> Article:
    """The article the old file holds, as it reads after the upgrade."""
    return normalize_article(
        Article(
            url="https://example.com/2024/harbour",
            site="example",
            title="Harbour reopens",
            authors=["Jane Doe"],
            tags=["Ports"],
            language="en",
            published="2024-03-01T09:00:00+00:00",
            body_text="Ships returned on Monday.\n\nThe quay was rebuilt.",
            images=[
                Image(
                    url=PICTURE,
                    caption="Cranes at dawn",
                    credit="REUTERS/Jane Doe",
                    photographer="Jane Doe",
                    agency="Reuters",
                    alt="Cranes",
                    is_lead=True,
                )
            ],
            videos=[
                Video(
                    provider="youtube",
                    video_id="abcdefghijk",
                    url="https://www.youtube.com/watch?v=abcdefghijk",
                    title="The quay",
                )
            ],
        )
    )


def old_archive(path: Path, version: int) -> str:
    """Write an archive at schema ``version`` holding :func:`stored_article`; return its id."""
    article = stored_article()
    aid = stable_id(article.canonical_url)
    image_id = stable_id(PICTURE)
    use = ("Cranes at dawn", "REUTERS/Jane Doe", "Jane Doe", "Reuters", "Cranes")
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / f"schema_v{version}.sql").read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [str(version)])
    conn.execute("INSERT INTO sites (site) VALUES ('example')")
    conn.execute(
        "INSERT INTO crawls (id, spider, site, started) VALUES (1, 'news', 'example', 't')"
    )
    conn.execute(
        "INSERT INTO articles (id, url, canonical_url, site, title, published, published_month, "
        "language, body_text, content_hash, first_seen, last_seen, crawl_id) "
        "VALUES (?, ?, ?, 'example', ?, ?, '2024-03', 'en', ?, ?, 't1', 't1', 1)",
        [
            aid,
            article.url,
            article.canonical_url,
            article.title,
            article.published,
            article.body_text,
            content_hash(content_snapshot(article)),
        ],
    )
    conn.execute("INSERT INTO authors (id, name) VALUES (1, 'Jane Doe')")
    conn.execute("INSERT INTO article_authors VALUES (?, 1, 0)", [aid])
    conn.execute("INSERT INTO tags (id, name) VALUES (1, 'Ports')")
    conn.execute("INSERT INTO article_tags VALUES (?, 1, 0)", [aid])
    conn.execute(
        "INSERT INTO videos (id, provider, video_id, url, title, first_seen) VALUES (?, ?, ?, ?, ?, 't1')",
        [
            "youtube:abcdefghijk",
            "youtube",
            "abcdefghijk",
            "https://www.youtube.com/watch?v=abcdefghijk",
            "The quay",
        ],
    )
    conn.execute("INSERT INTO article_videos VALUES (?, 'youtube:abcdefghijk', 0)", [aid])
    if version < 4:  # captions were on the picture's row
        conn.execute(
            "INSERT INTO images (id, url, caption, credit, photographer, agency, alt, first_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 't1')",
            [image_id, PICTURE, *use],
        )
        conn.execute("INSERT INTO article_images VALUES (?, ?, 0, 1)", [aid, image_id])
    else:  # on each use of it
        conn.execute(
            "INSERT INTO images (id, url, first_seen) VALUES (?, ?, 't1')", [image_id, PICTURE]
        )
        conn.execute("INSERT INTO image_urls VALUES (?, ?, 't1')", [PICTURE, image_id])
        conn.execute(
            "INSERT INTO article_images (article_id, image_id, position, is_lead, caption, credit, "
            "photographer, agency, alt) VALUES (?, ?, 0, 1, ?, ?, ?, ?, ?)",
            [aid, image_id, *use],
        )
    conn.commit()
    conn.close()
    return aid


def assert_version_7(upgraded: Archive, aid: str) -> None:
    """The text moved to ``article_texts`` (and is found), the credits were counted."""
    assert "body_text" not in upgraded.db["articles"].columns_dict
    texts = upgraded.db.execute("SELECT article_id, body_text FROM article_texts").fetchall()
    assert texts == [(aid, stored_article().body_text)]
    found = upgraded.db.execute(
        "SELECT a.id FROM articles_fts f JOIN articles a ON a.rowid = f.rowid "
        "WHERE articles_fts MATCH 'quay AND harbour'"
    )
    assert found.fetchall() == [(aid,)]
    credits = upgraded.db.execute(
        "SELECT photographer, agency, pictures, articles FROM photo_credits"
    )
    assert credits.fetchall() == [("Jane Doe", "Reuters", 1, 1)]


def schema(archive: Archive) -> list[tuple]:
    return archive.db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    ).fetchall()


@pytest.mark.parametrize("version", [1, 5, 6])
def test_old_archive_upgrades_to_the_current_schema_with_its_rows(tmp_path, version):
    path = tmp_path / f"v{version}.db"
    aid = old_archive(path, version)
    with pytest.raises(SchemaVersionError):  # read-only: never migrated
        Archive(path, readonly=True)
    with Archive(tmp_path / "new.db") as new:
        expected = schema(new)
    with Archive(path) as upgraded:
        assert upgraded.schema_version == SCHEMA_VERSION
        assert upgraded.db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone() == (str(SCHEMA_VERSION),)
        assert schema(upgraded) == expected
        assert upgraded.db.execute("PRAGMA foreign_key_check").fetchall() == []
        for table in FTS_TABLES:  # rank 1: the index also matches its content, row by row
            upgraded.db.execute(
                f"INSERT INTO {table}_fts({table}_fts, rank) VALUES('integrity-check', 1)"
            )
        assert upgraded.load_snapshot(aid) == content_snapshot(stored_article())
        assert_version_7(upgraded, aid)
        found = upgraded.db.execute(
            "SELECT rowid FROM article_images_fts WHERE article_images_fts MATCH 'cranes'"
        )
        assert len(found.fetchall()) == 1
        assert upgraded.save_article(stored_article()) == "unchanged"
        assert upgraded.count("revisions") == 0
    with Archive(path, readonly=True) as reader:
        assert reader.count("articles") == 1


#: The columns a journalist filters the articles table by (a facet click), and the SQL shapes
#: Datasette 0.65 runs for such a page (seen with ``?_trace=1``): the page newest first, its count
#: and one GROUP BY per default facet (metadata.json: site, section, published_month).
FILTER_COLUMNS = ("site", "section", "language", "kind")
DEFAULT_FACETS = ("site", "section", "published_month")


def query_plan(archive: Archive, sql: str) -> str:
    return " / ".join(row[3] for row in archive.db.execute(f"EXPLAIN QUERY PLAN {sql}", ["x"]))


@pytest.mark.parametrize("column", FILTER_COLUMNS)
def test_a_filtered_articles_page_reads_an_index_in_date_order(tmp_path, column):
    """Schema 11: the page of one site (section, language, kind) walks its
    ``(column, published, ...)`` index newest first, and its count and facets read that index
    alone (no articles row), in an archive upgraded from version 6 as in a new one."""
    old_archive(tmp_path / "v6.db", 6)
    for path in (tmp_path / "v6.db", tmp_path / "new.db"):
        with Archive(path) as archive:
            where = f'from articles where "{column}" = :p0'
            page = query_plan(archive, f"select * {where} order by published desc limit 101")
            assert (
                page == f"SEARCH articles USING INDEX idx_articles_{column}_published ({column}=?)"
            )
            count = query_plan(archive, f"select count(*) {where}")
            assert f"COVERING INDEX idx_articles_{column}_published" in count
            for facet in DEFAULT_FACETS:
                plan = query_plan(
                    archive,
                    f"select {facet} as value, count(*) as count from (select * {where}) "
                    f"where {facet} is not null group by {facet} order by count desc, value limit 31",
                )
                assert f"COVERING INDEX idx_articles_{column}_published" in plan, (facet, plan)


def reused(archive: Archive) -> list[str]:
    return [r[0] for r in archive.db.execute("SELECT image_id FROM reused_images ORDER BY 1")]


def test_reused_images_follow_the_uses_of_a_picture(tmp_path):
    """Schema 12: ``reused_images`` holds the pictures two or more articles use, from the
    upgrade of an old file on, as articles are saved, changed and their pictures renamed."""
    path = tmp_path / "v6.db"
    old_archive(path, 6)
    picture = stable_id(PICTURE)
    with Archive(path) as archive:
        assert reused(archive) == []  # one article uses the picture
        other = stored_article()
        other.url = other.canonical_url = "https://example.org/2024/quay"
        other.title = "The quay, again"
        other.site = "other"
        assert archive.save_article(other) == "new"
        assert reused(archive) == [picture]
        other.images = []  # the second article drops the picture when it changes
        assert archive.save_article(other) == "changed"
        assert reused(archive) == []
        other.images = stored_article().images
        archive.save_article(other)
        # a picture's uses moved to another picture row (as a merge of duplicates would)
        archive.db.execute("INSERT INTO images (id, url, first_seen) VALUES ('moved', 'u', 't')")
        archive.db.execute(
            "UPDATE article_images SET image_id = 'moved' WHERE image_id = ?", [picture]
        )
        assert reused(archive) == ["moved"]
        grouped = archive.db.execute(
            "SELECT image_id FROM article_images GROUP BY image_id HAVING count(*) > 1"
        )
        assert reused(archive) == [r[0] for r in grouped]
    old_archive(tmp_path / "two.db", 6)
    with sqlite3.connect(tmp_path / "two.db") as conn:  # a v6 file where two articles share it
        conn.execute(
            "INSERT INTO articles (id, url, site, title, first_seen, last_seen, content_hash) "
            "VALUES ('b', 'https://example.org/b', 'other', 'B', 't', 't', 'h')"
        )
        conn.execute(
            "INSERT INTO article_images (article_id, image_id, position) VALUES ('b', ?, 0)",
            [picture],
        )
    with Archive(tmp_path / "two.db") as upgraded:
        assert reused(upgraded) == [picture]


def kept_counts(archive: Archive) -> list[tuple]:
    return archive.db.execute(
        "SELECT filter_column, filter_value, facet_column, value, count FROM facet_counts "
        "ORDER BY 1, 2, 3, 4"
    ).fetchall()


def grouped_counts(archive: Archive) -> list[tuple]:
    """What ``facet_counts`` must hold: Datasette's facet GROUP BY of the whole table and of
    each value of each counted filter, computed here from the rows."""
    from newsarchive.store.schema import COUNTED_FACETS, COUNTED_FILTERS

    rows = []
    for facet in COUNTED_FACETS:
        grouped = archive.db.execute(
            f"SELECT {facet}, count(*) FROM articles WHERE {facet} IS NOT NULL GROUP BY 1"
        )
        rows += [("", "", facet, value, n) for value, n in grouped]
        for column in COUNTED_FILTERS:
            grouped = archive.db.execute(
                f"SELECT {column}, {facet}, count(*) FROM articles "
                f"WHERE {column} IS NOT NULL AND {facet} IS NOT NULL GROUP BY 1, 2"
            )
            rows += [(column, value, facet, v, n) for value, v, n in grouped]
    return sorted(rows)


def test_facet_counts_follow_the_articles(tmp_path):
    """Schema 13: ``facet_counts`` holds the articles table's default facets for the whole table
    and for each kind and language, from the upgrade of an old file on, as articles are saved,
    changed (section, language, kind), deleted, and when a value's last article goes."""
    path = tmp_path / "v6.db"
    old_archive(path, 6)
    with Archive(path) as archive:
        assert kept_counts(archive) == grouped_counts(archive) != []
        other = stored_article()
        other.url = other.canonical_url = "https://example.org/2024/quay"
        other.site, other.section, other.language = "other", "World", "fr"
        assert archive.save_article(other) == "new"
        assert ("language", "fr", "site", "other", 1) in kept_counts(archive)
        assert kept_counts(archive) == grouped_counts(archive)
        other.section, other.language, other.kind = "Business", None, "video"
        other.body_text += "\n\nChanged."
        assert archive.save_article(other) == "changed"
        assert kept_counts(archive) == grouped_counts(archive)
        assert not [row for row in kept_counts(archive) if row[1] == "fr" or row[3] == "World"]
        archive.db.execute("UPDATE articles SET last_seen = 'later'")  # no counted column
        archive.db.execute("UPDATE articles SET published_month = NULL WHERE site = 'other'")
        assert kept_counts(archive) == grouped_counts(archive)
        archive.db.execute("PRAGMA foreign_keys = OFF")
        archive.db.execute("DELETE FROM articles WHERE site = 'other'")
        assert kept_counts(archive) == grouped_counts(archive)
        assert not [row for row in kept_counts(archive) if "other" in row or "video" in row]


def by_index(archive: Archive, column: str, value: str) -> list[str]:
    """The ids of the articles whose ``column`` equals ``value`` by ``articles_fts``'s token."""
    return [row[0] for row in archive.db.execute(
        "SELECT a.id FROM articles_fts f JOIN articles a ON a.rowid = f.rowid "
        "WHERE articles_fts MATCH ? ORDER BY a.id", [f'"{filter_token(column, value)}"'])]


def by_column(archive: Archive, column: str, value: str) -> list[str]:
    return [row[0] for row in archive.db.execute(
        f"SELECT id FROM articles WHERE {column} = ? ORDER BY id", [value])]


def assert_tokens_match_columns(archive: Archive) -> None:
    """Every value of each search filter column (and near misses: other case, accent, stem)
    finds in the index exactly the articles that have it; the index matches its content."""
    archive.db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES('integrity-check', 1)")
    for column in SEARCH_FILTER_COLUMNS:
        values = {row[0] for row in archive.db.execute(f"SELECT {column} FROM articles")} - {None}
        for value in values | {"Politica", "política", "Políticas", "example ", "EXAMPLE", ""}:
            assert by_index(archive, column, value) == by_column(archive, column, value), (column, value)


def test_filter_tokens_follow_the_articles(tmp_path):
    """Schema 16: ``articles_fts`` holds a token per value of each of an article's
    SEARCH_FILTER_COLUMNS (a search narrowed by ``?site=`` reads it), from the upgrade of an old
    file on, as articles are saved, changed and deleted; no typed search finds a token."""
    path = tmp_path / "v6.db"
    old_archive(path, 6)
    with Archive(path) as archive:
        assert by_index(archive, "site", "example") == by_column(archive, "site", "example") != []
        other = stored_article()
        other.url = other.canonical_url = "https://example.org/2024/quay"
        other.site, other.section, other.language = "other", "Política", "es"
        assert archive.save_article(other) == "new"
        third = stored_article()
        third.url = third.canonical_url = "https://example.org/2024/pier"
        third.section = "Politica"
        assert archive.save_article(third) == "new"
        assert_tokens_match_columns(archive)
        assert len(by_index(archive, "section", "Política")) == 1
        other.section, other.language, other.kind = "Business", None, "video"
        other.body_text += "\n\nChanged."
        assert archive.save_article(other) == "changed"
        assert by_index(archive, "section", "Política") == [] and by_index(archive, "kind", "video") != []
        assert_tokens_match_columns(archive)
        archive.db.execute("UPDATE articles SET last_seen = 'later'")  # no indexed column
        archive.db.execute("INSERT INTO sites (site) VALUES ('moved')")
        archive.db.execute("UPDATE articles SET published_month = NULL, site = 'moved' WHERE site = 'other'")
        assert_tokens_match_columns(archive)
        archive.db.execute("UPDATE article_texts SET body_text = 'Rewritten.'")
        assert_tokens_match_columns(archive)
        # what a journalist types never finds a token: not the value, its hex, nor a prefix
        token = filter_token("site", "moved")
        for typed in ('"moved"', f'"{token.strip(chr(0xE000))}"', "6d6f*", "06d*", '"2024-03"'):
            found = archive.db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [typed])
            assert found.fetchone() == (0,), typed
        archive.db.execute("PRAGMA foreign_keys = OFF")
        archive.db.execute("DELETE FROM articles WHERE site = 'moved'")
        assert by_index(archive, "site", "moved") == []
        assert_tokens_match_columns(archive)
