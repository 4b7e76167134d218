"""Tests of newsarchive.store.Archive: schema, idempotent writes, revisions, FTS."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3

import pytest
import sqlite_utils

from newsarchive.items import Article, CrawlFailure, Image, Video
from newsarchive.processors import normalize_article
from newsarchive.store import (
    FTS_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    Archive,
    ReadOnlyArchiveError,
    article_id,
    stable_id,
)

LINK_TABLES = ("article_authors", "article_tags", "article_images", "article_videos")
COUNTED = ("articles", "authors", "tags", "images", "videos", "revisions", "sites", *LINK_TABLES)


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "archive.db") as a:
        yield a


def make_article(**kw) -> Article:
    """An article as extraction returns it: normalised (the store does not normalise)."""
    base = dict(
        url="https://example.com/world/2024/02/24/story?utm_source=newsletter",
        site="example",
        title="Floods reach the capital",
        description="Rivers burst their banks after a week of rain.",
        authors=["Jane Doe", "John Roe"],
        published="2024-02-24T12:42:23+01:00",
        published_raw="24 February 2024, 12:42",
        section="World",
        tags=["Floods", "Weather"],
        language="en",
        body_text="The river rose overnight.\n\nResidents were evacuated by boat.",
        images=[
            Image(url="https://cdn.example.com/flood.jpg", caption="A flooded street in the centre",
                  credit="REUTERS/Leah Millis", photographer="Leah Millis", agency="Reuters",
                  alt="Water in a street", width=1200, height=800, position=0, is_lead=True),
            Image(url="https://cdn.example.com/boat.jpg", caption="Rescuers in a boat",
                  credit="AP Photo/Sam Smith", photographer="Sam Smith", agency="AP", position=1),
        ],
        videos=[
            Video(provider="youtube", video_id="dQw4w9WgXcQ",
                  url="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                  title="Drone footage of the inundation", duration_s=95),
        ],
    )
    base.update(kw)
    return normalize_article(Article(**base))


def counts(archive: Archive) -> dict[str, int]:
    return {t: archive.count(t) for t in COUNTED}


def rows(archive: Archive, table: str) -> list[dict]:
    return list(archive.db.query(f"select * from [{table}] order by rowid"))


# -- schema ---------------------------------------------------------------------------


def test_schema_version_recorded(archive):
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
    assert archive.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert archive.db.execute(
        "select value from meta where key = 'schema_version'"
    ).fetchone()[0] == str(SCHEMA_VERSION)
    assert archive.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopen_does_not_migrate_again(tmp_path):
    path = tmp_path / "archive.db"
    with Archive(path) as a:
        a.save_article(make_article())
        meta = list(a.db.query("select * from meta order by key"))
    with Archive(path) as a:
        assert a.schema_version == SCHEMA_VERSION
        assert a.count("articles") == 1
        assert list(a.db.query("select * from meta order by key")) == meta
        assert sorted(r["key"] for r in meta) == ["schema_version"]


def test_foreign_keys_declared(archive):
    fks = {(fk.column, fk.other_table, fk.other_column) for fk in archive.db["articles"].foreign_keys}
    assert ("site", "sites", "site") in fks
    assert ("crawl_id", "crawls", "id") in fks
    link = {(fk.column, fk.other_table) for fk in archive.db["article_images"].foreign_keys}
    assert link == {("article_id", "articles"), ("image_id", "images")}
    assert {fk.other_table for fk in archive.db["revisions"].foreign_keys} == {"articles", "crawls"}
    assert {fk.other_table for fk in archive.db["failures"].foreign_keys} == {"crawls"}


def test_count_rejects_unknown_table(archive):
    with pytest.raises(ValueError):
        archive.count("articles; drop table articles")


# -- articles ---------------------------------------------------------------------------


def test_save_article_stores_everything(archive):
    assert archive.save_article(make_article(), seen_at="2024-02-24T13:00:00+00:00") == "new"
    (row,) = rows(archive, "articles")
    assert row["id"] == stable_id("https://example.com/world/2024/02/24/story")
    assert row["id"] == article_id(make_article(canonical_url="https://example.com/world/2024/02/24/story"))
    assert row["canonical_url"] == "https://example.com/world/2024/02/24/story"
    assert row["published"] == "2024-02-24T11:42:23+00:00"
    assert row["published_month"] == "2024-02"
    assert row["authors_text"] == "Jane Doe, John Roe"
    assert row["tags_text"] == "Floods, Weather"
    assert row["word_count"] == 9
    assert row["first_seen"] == row["last_seen"] == "2024-02-24T13:00:00+00:00"
    assert [r["name"] for r in archive.db.query(
        "select name from authors join article_authors on author_id = id order by position")] == ["Jane Doe", "John Roe"]
    images = archive.db.execute(
        "select ai.credit, ai.position, ai.is_lead from article_images ai join images i on i.id = ai.image_id "
        "order by ai.position").fetchall()
    assert images == [("REUTERS/Leah Millis", 0, 1), ("AP Photo/Sam Smith", 1, 0)]
    (video,) = rows(archive, "videos")
    assert video["id"] == "youtube:dQw4w9WgXcQ" and video["duration_s"] == 95
    assert archive.db.execute("select site from sites").fetchall() == [("example",)]


def test_save_twice_is_idempotent(archive):
    article = make_article()
    assert archive.save_article(article, seen_at="2024-02-24T13:00:00+00:00") == "new"
    before = counts(archive)
    snapshot = {t: rows(archive, t) for t in COUNTED}
    assert archive.save_article(article, seen_at="2024-02-25T13:00:00+00:00") == "unchanged"
    assert counts(archive) == before
    assert archive.count("revisions") == 0
    after = {t: rows(archive, t) for t in COUNTED}
    assert after["articles"][0].pop("last_seen") == "2024-02-25T13:00:00+00:00"
    assert snapshot["articles"][0].pop("last_seen") == "2024-02-24T13:00:00+00:00"
    assert after == snapshot


def test_title_change_makes_one_revision(archive):
    archive.save_article(make_article(), seen_at="2024-02-24T13:00:00+00:00")
    changed = make_article(title="Floods reach the capital, thousands evacuated")
    assert archive.save_article(changed, seen_at="2024-02-24T18:00:00+00:00") == "changed"
    (rev,) = rows(archive, "revisions")
    assert json.loads(rev["changed_fields"]) == ["title"]
    assert json.loads(rev["old_values"]) == {"title": "Floods reach the capital"}
    assert rev["seen_at"] == "2024-02-24T18:00:00+00:00"
    assert rev["old_content_hash"] != rev["new_content_hash"]
    (row,) = rows(archive, "articles")
    assert row["title"] == "Floods reach the capital, thousands evacuated"
    assert row["content_hash"] == rev["new_content_hash"]
    assert row["first_seen"] == "2024-02-24T13:00:00+00:00"
    # Saving the new version again changes nothing more.
    assert archive.save_article(changed) == "unchanged"
    assert archive.count("revisions") == 1


def test_whitespace_only_difference_is_unchanged(archive):
    archive.save_article(make_article())
    assert archive.save_article(make_article(title="  Floods   reach the capital ")) == "unchanged"


def test_removed_picture_tag_author_update_links(archive):
    archive.save_article(make_article())
    article = make_article(images=make_article().images[:1], tags=["Floods"], authors=["Jane Doe"])
    assert archive.save_article(article) == "changed"
    assert archive.count("article_images") == 1
    assert archive.count("article_tags") == 1
    assert archive.count("article_authors") == 1
    (rev,) = rows(archive, "revisions")
    assert json.loads(rev["changed_fields"]) == ["authors", "tags", "images"]
    assert json.loads(rev["old_values"])["tags"] == ["Floods", "Weather"]
    # The picture itself stays archived.
    assert archive.count("images") == 2


def test_shared_picture_is_one_row(archive):
    first = make_article()
    second = make_article(url="https://example.com/world/2024/02/25/aftermath",
                          title="After the floods", images=[first.images[0]], videos=[])
    archive.save_article(first)
    archive.save_article(second)
    assert archive.count("articles") == 2
    assert archive.count("images") == 2
    shared = stable_id(first.images[0].url)
    assert archive.db.execute(
        "select count(*) from article_images where image_id = ?", [shared]).fetchone()[0] == 2


def test_crawl_lifecycle_counts_pages(archive):
    crawl = archive.start_crawl(spider="example", site="example", args={"pages": 10})
    archive.save_article(make_article(), crawl_id=crawl)
    archive.save_article(make_article(), crawl_id=crawl)
    archive.save_article(make_article(title="New title"), crawl_id=crawl)
    archive.finish_crawl(crawl, stats={"start_time": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                                       "item_scraped_count": 3}, outcome="finished")
    (row,) = rows(archive, "crawls")
    assert (row["pages_new"], row["pages_changed"], row["pages_unchanged"]) == (1, 1, 1)
    assert row["outcome"] == "finished" and row["finished"]
    assert json.loads(row["args"]) == {"pages": 10}
    assert json.loads(row["stats"])["start_time"].startswith("2024-01-01")
    assert rows(archive, "articles")[0]["crawl_id"] == crawl
    assert rows(archive, "revisions")[0]["crawl_id"] == crawl


def test_failures_upsert(archive):
    crawl1 = archive.start_crawl(spider="example")
    archive.record_failure(CrawlFailure(url="https://example.com/x", stage="http",
                                        reason="HTTP 500", http_status=500), crawl_id=crawl1)
    crawl2 = archive.start_crawl(spider="example")
    archive.record_failure(CrawlFailure(url="https://example.com/x", stage="http",
                                        reason="HTTP 404", http_status=404), crawl_id=crawl2)
    archive.record_failure(CrawlFailure(url="https://example.com/x", stage="extract",
                                        reason="no title and no body"), crawl_id=crawl2)
    assert archive.count("failures") == 2
    row = archive.db.execute(
        "select reason, http_status, attempts, crawl_id from failures where stage = 'http'").fetchone()
    assert row == ("HTTP 404", 404, 2, crawl2)


def test_ensure_site_fills_in(archive):
    archive.ensure_site("example")
    archive.ensure_site("example", name="Example News", base_url="https://example.com/")
    archive.ensure_site("example")
    assert archive.db.execute("select site, name, base_url from sites").fetchall() == [
        ("example", "Example News", "https://example.com/")]


# -- search and integrity ------------------------------------------------------------------


def fts(archive: Archive, table: str, query: str) -> list:
    return archive.db.execute(
        f"select {table}.id from {table}_fts join {table} on {table}.rowid = {table}_fts.rowid "
        f"where {table}_fts match ?", [query]).fetchall()


def pictures_found(archive: Archive, query: str) -> list[str]:
    """The pictures whose caption, credit or alt in an article matches ``query``."""
    return [r[0] for r in archive.db.execute(
        "select ai.image_id from article_images_fts f join article_images ai on ai.rowid = f.rowid "
        "where article_images_fts match ?", [query]).fetchall()]


def test_fts_finds_article_caption_and_video(archive):
    archive.save_article(make_article())
    assert fts(archive, "articles", "evacuated") == [(stable_id("https://example.com/world/2024/02/24/story"),)]
    assert pictures_found(archive, "rescuers") == [stable_id("https://cdn.example.com/boat.jpg")]
    assert pictures_found(archive, "millis") == [stable_id("https://cdn.example.com/flood.jpg")]
    assert fts(archive, "videos", "drone") == [("youtube:dQw4w9WgXcQ",)]
    # Triggers keep the index in sync on update.
    archive.save_article(make_article(title="Drought hits the capital", body_text="Not a drop."))
    assert fts(archive, "articles", "evacuated") == []
    assert len(fts(archive, "articles", "drought")) == 1


def test_integrity_and_foreign_keys_clean(archive):
    crawl = archive.start_crawl(spider="example", site="example")
    archive.save_article(make_article(), crawl_id=crawl)
    archive.save_article(make_article(title="Changed", tags=[]), crawl_id=crawl)
    archive.record_failure(CrawlFailure(url="u", stage="http", reason="HTTP 404"), crawl_id=crawl)
    assert archive.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert archive.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    for table in FTS_TABLES:
        archive.db.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES('integrity-check')")


def fts_consistent(archive: Archive) -> None:
    """Every FTS index matches its content row by row (``integrity-check`` with rank 1)."""
    for table in FTS_TABLES:
        archive.db.execute(f"INSERT INTO {table}_fts({table}_fts, rank) VALUES('integrity-check', 1)")


def test_text_has_its_own_row_and_stays_searchable(archive):
    archive.save_article(make_article())
    aid = article_id(make_article())
    assert "body_text" not in archive.db["articles"].columns_dict
    assert archive.db.execute("select article_id, body_text from article_texts").fetchall() == [
        (aid, make_article().body_text)]
    # Title and text change apart or together; the index follows each, whatever the order.
    archive.save_article(make_article(body_text="Drought.\n\nThe wells ran dry."))
    assert fts(archive, "articles", "evacuated") == [] and fts(archive, "articles", "wells") == [(aid,)]
    archive.save_article(make_article(title="Wells run dry", body_text="Drought.\n\nThe wells ran dry."))
    assert fts(archive, "articles", "floods") == [] and fts(archive, "articles", "title:wells") == [(aid,)]
    archive.save_article(make_article(title="Rain at last", body_text="It rained."))
    assert fts(archive, "articles", "wells") == [] and fts(archive, "articles", "rain AND rained") == [(aid,)]
    fts_consistent(archive)
    assert archive.load_snapshot(aid)["body_text"] == "It rained."
    assert archive.db.execute("select count(*) from article_texts").fetchone() == (1,)


def test_deleted_article_leaves_no_text_and_no_index_entry(archive):
    other = make_article(url="https://example.com/other", title="Other", body_text="Evacuated again.")
    archive.save_article(make_article())
    archive.save_article(other)
    aid = article_id(make_article())
    with archive.db.atomic():  # foreign keys on: the text goes with its article
        archive.db.execute("delete from articles where id = ?", [aid])
    assert archive.db.execute("select count(*) from article_texts where article_id = ?", [aid]).fetchone() == (0,)
    assert fts(archive, "articles", "evacuated") == [(article_id(other),)]
    fts_consistent(archive)


def test_photo_credits_counted_when_a_crawl_finishes(archive):
    crawl = archive.start_crawl(spider="example", site="example")
    archive.save_article(make_article(), crawl_id=crawl)
    assert archive.db.execute("select count(*) from photo_credits").fetchone() == (0,)
    archive.finish_crawl(crawl, stats={}, outcome="finished")
    expected = archive.db.execute(
        "select photographer, agency, count(distinct image_id), count(distinct article_id) from article_images "
        "where photographer is not null or agency is not null group by photographer, agency").fetchall()
    assert expected
    assert archive.db.execute(
        "select photographer, agency, pictures, articles from photo_credits order by photographer, agency"
    ).fetchall() == sorted(expected, key=lambda r: (r[0] or "", r[1] or ""))


def test_save_article_is_one_transaction(archive):
    # An unknown crawl id violates a foreign key: nothing of the article is kept.
    with pytest.raises(sqlite3.IntegrityError):
        archive.save_article(make_article(), crawl_id=999)
    assert counts(archive) == dict.fromkeys(COUNTED, 0)


# -- read-only ---------------------------------------------------------------------------


def test_readonly_cannot_write(tmp_path):
    path = tmp_path / "archive.db"
    with Archive(path) as a:
        a.save_article(make_article())
    with Archive(path, readonly=True) as ro:
        assert ro.count("articles") == 1
        with pytest.raises(ReadOnlyArchiveError):
            ro.save_article(make_article(title="Other"))
        with pytest.raises(ReadOnlyArchiveError):
            ro.record_failure(CrawlFailure(url="u", stage="http", reason="x"))
        with pytest.raises(ReadOnlyArchiveError):
            ro.start_crawl(spider="x")
        with pytest.raises(sqlite3.OperationalError):
            ro.db.execute("insert into sites (site) values ('x')")
    with Archive(path, readonly=True) as ro:
        assert ro.db.execute("select title from articles").fetchall() == [("Floods reach the capital",)]


def test_readonly_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Archive(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_reader_sees_writes_while_writer_open(tmp_path):
    path = tmp_path / "archive.db"
    with Archive(path) as writer:
        writer.save_article(make_article())
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert reader.execute("select count(*) from articles").fetchone()[0] == 1
            writer.save_article(make_article(url="https://example.com/other"))
            assert reader.execute("select count(*) from articles").fetchone()[0] == 2
        finally:
            reader.close()


def test_snapshot_and_checkpoint(tmp_path):
    path = tmp_path / "archive.db"
    with Archive(path) as a:
        a.save_article(make_article())
        a.checkpoint()
        snap = a.snapshot(tmp_path / "snapshot.db")
        with pytest.raises(FileExistsError):
            a.snapshot(snap)
    conn = sqlite3.connect(snap)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("select count(*) from articles").fetchone()[0] == 1
    finally:
        conn.close()
    with Archive(path, readonly=True) as ro:
        ro.snapshot(tmp_path / "from-readonly.db")
        with pytest.raises(ReadOnlyArchiveError):
            ro.checkpoint()
    with Archive(tmp_path / "from-readonly.db", readonly=True) as copy:
        assert copy.count("images") == 2


def test_writes_from_threads(tmp_path):
    import threading

    with Archive(tmp_path / "archive.db") as a:
        def work(n):
            for i in range(10):
                a.save_article(make_article(url=f"https://example.com/t{n}/{i}", images=[], videos=[]))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.count("articles") == 40
        assert a.count("article_authors") == 80


# -- captions belong to the use of a picture, not to its file ------------------------------
def test_one_picture_in_four_articles_keeps_four_captions(archive):
    picture = "https://cdn.example.com/shared.jpg"
    for n in range(4):
        archive.save_article(Article(
            url=f"https://example.com/story-{n}", site="example", title=f"Story {n}", body_text="Text.",
            images=[Image(url=picture, caption=f"Caption number {n}", credit=f"Agency {n}/Photographer {n}",
                          photographer=f"Photographer {n}", agency=f"Agency {n}", alt=f"Alt {n}",
                          caption_source="page")]))
    assert archive.count("images") == 1
    uses = list(archive.db.query(
        "select a.title, ai.caption, ai.credit, ai.photographer, ai.agency, ai.alt, ai.caption_source "
        "from article_images ai join articles a on a.id = ai.article_id order by a.title"))
    assert uses == [{"title": f"Story {n}", "caption": f"Caption number {n}", "credit": f"Agency {n}/Photographer {n}",
                     "photographer": f"Photographer {n}", "agency": f"Agency {n}", "alt": f"Alt {n}",
                     "caption_source": "page"} for n in range(4)]
    assert pictures_found(archive, '"caption number 2"') == [stable_id(picture)]
    assert not {"caption", "credit", "photographer", "agency", "alt"} & {c.name for c in archive.db["images"].columns}
    # Saving one article again changes nothing in the others' captions, and no revision is made.
    archive.save_article(Article(url="https://example.com/story-0", site="example", title="Story 0", body_text="Text.",
                                 images=[Image(url=picture, caption="Caption number 0", credit="Agency 0/Photographer 0",
                                               photographer="Photographer 0", agency="Agency 0", alt="Alt 0",
                                               caption_source="page")]))
    assert archive.count("revisions") == 0


def test_migration_to_version_4_keeps_every_caption(tmp_path):
    path = tmp_path / "v3.db"
    db = sqlite_utils.Database(path)
    for number, migration in enumerate(MIGRATIONS[:3], 1):
        with db.atomic():
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    db.execute("INSERT INTO articles (id, url, content_hash, first_seen, last_seen) VALUES ('a1', 'u1', 'h', 't', 't')")
    db.execute("INSERT INTO articles (id, url, content_hash, first_seen, last_seen) VALUES ('a2', 'u2', 'h', 't', 't')")
    db.execute("INSERT INTO images (id, url, caption, credit, photographer, agency, alt, first_seen, sha256) "
               "VALUES ('i1', 'p1', 'Harbour at dawn', 'REUTERS/Jane Doe', 'Jane Doe', 'Reuters', 'Cranes', 't', 'ff')")
    db.execute("INSERT INTO article_images (article_id, image_id, position, is_lead) VALUES ('a1', 'i1', 0, 1)")
    db.execute("INSERT INTO article_images (article_id, image_id, position, is_lead) VALUES ('a2', 'i1', 2, 0)")
    db.conn.commit()
    db.close()
    with Archive(path) as migrated:
        assert migrated.schema_version >= 4
        uses = list(migrated.db.query("select article_id, caption, credit, photographer, agency, alt, position, is_lead "
                                      "from article_images order by article_id"))
        assert uses == [{"article_id": a, "caption": "Harbour at dawn", "credit": "REUTERS/Jane Doe",
                         "photographer": "Jane Doe", "agency": "Reuters", "alt": "Cranes", "position": p, "is_lead": lead}
                        for a, p, lead in (("a1", 0, 1), ("a2", 2, 0))]
        assert next(migrated.db.query("select sha256 from images"))["sha256"] == "ff"
        assert sorted(pictures_found(migrated, "reuters")) == ["i1", "i1"]
        assert "images_fts" not in migrated.db.table_names()


def test_a_page_archived_under_a_ruled_out_canonical_is_not_archived_twice(archive):
    """Before the identity rule, a page's row could be keyed by another site's canonical URL; the
    same page saved under its own URL now continues that row."""
    url = "https://example.com/story"
    first = Article(url=url, canonical_url="https://other.example/their-story", site="example",
                    title="Story", body_text="Text of the story.")
    archive.save_article(first)
    own = normalize_article(dataclasses.replace(first, canonical_url=None))  # canonical: its own URL
    assert archive.save_article(own) == "unchanged"
    assert [r["canonical_url"] for r in archive.db.query("select canonical_url from articles")] == [url]
    again = dataclasses.replace(own, title="Story, updated")
    assert archive.save_article(again) == "changed"
    assert archive.count("articles") == 1 and archive.count("revisions") == 1


def test_captured_articles_lists_each_article_with_its_capture(archive):
    capture = {"id": "urn:uuid:1", "url": "https://example.com/world/2024/02/24/story?utm_source=newsletter",
               "warc_file": "crawl-1.warc.gz", "offset": 1234, "length": 99, "warc_date": "2024-02-24T13:00:00Z",
               "status": 200, "content_type": "text/html; charset=utf-8"}
    archive.record_capture(capture)
    archive.save_article(dataclasses.replace(make_article(kind="video"), capture_id="urn:uuid:1"))
    archive.save_article(make_article(url="https://example.com/not-captured"))
    (row,) = archive.captured_articles()
    assert row.article_id == stable_id("https://example.com/world/2024/02/24/story")
    assert (row.site, row.kind, row.canonical_url) == ("example", "video", "https://example.com/world/2024/02/24/story")
    assert (row.capture_id, row.capture_url, row.warc_file, row.warc_offset, row.content_type) == (
        "urn:uuid:1", capture["url"], "crawl-1.warc.gz", 1234, "text/html; charset=utf-8")
    assert archive.capture("urn:uuid:1")["warc_length"] == 99 and archive.capture("urn:uuid:2") is None


def _capture(n: int, url: str) -> dict:
    return {"id": f"urn:uuid:{n}", "url": url, "warc_file": "crawl-1.warc.gz", "offset": 100 * n,
            "length": 99, "warc_date": "2024-02-24T13:00:00Z", "status": 200, "content_type": "text/html"}


def test_a_queued_capture_is_written_with_its_article_in_one_transaction(tmp_path):
    """The crawl's captures wait for the next write (the page's article): one commit a page. Until
    written, ``capture`` answers from the queue; a rolled-back write keeps them queued; closing
    the archive writes what is left."""
    path = tmp_path / "queued.db"
    archive = Archive(path)
    article = make_article()
    archive.queue_capture(_capture(1, article.url), crawl_id=None)
    archive.queue_capture(_capture(2, "https://example.com/robots.txt"), crawl_id=None)
    assert archive.count("captures") == 0 and archive.capture("urn:uuid:1")["warc_offset"] == 100
    commits = []
    archive.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    archive.save_article(dataclasses.replace(article, capture_id="urn:uuid:1"))
    archive.db.conn.set_trace_callback(None)
    assert len(commits) == 1 and archive.count("captures") == 2
    assert next(archive.db.query("select capture_id from articles"))["capture_id"] == "urn:uuid:1"
    archive.queue_capture(_capture(3, "https://example.com/other"), crawl_id=None)
    with pytest.raises(RuntimeError), archive.transaction():
        raise RuntimeError("a write that fails")
    assert archive.count("captures") == 2 and archive.capture("urn:uuid:3") is not None
    archive.close()
    with Archive(path) as reopened:
        assert reopened.count("captures") == 3 and reopened.capture("urn:uuid:3")["warc_offset"] == 300
