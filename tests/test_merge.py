"""``newsarchive merge``: shard archives (one real crawl of one local site each, with its own WARC
files) folded into one archive equal to a single-process crawl of the same sites (issue 15)."""
from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from newsarchive.capture import read_capture
from newsarchive.datasette.serve import make_datasette
from newsarchive.demo.server import DEMO_SITE, SiteServer
from newsarchive.items import (
    Article,
    CrawlFailure,
    FrontPage,
    Image,
    Placement,
    Transcript,
    TranscriptSegment,
    Video,
)
from newsarchive.store import Archive
from newsarchive.store.merge import _Merger, merge_shard
from tests.conftest import FAST, SITES, run_newsarchive

#: The bundled sample site's crawl, as ``newsarchive demo`` runs it (its pictures downloaded).
PICTURES = ("-s", "NEWSARCHIVE_IMAGE_DOMAINS=127.0.0.1")


def demo_args(base: str) -> tuple[str, ...]:
    return ("-a", "site=demo", "-a", f"robots={base}/robots.txt", "-a", f"feeds={base}/feed.rss",
            "-a", f"sections={base}/", "-a", "video_patterns=^/video/")


def bad_args(base: str) -> tuple[str, ...]:
    return ("-a", "site=badsite", "-a", f"feeds={base}/feed.rss")


def crawl(db: Path, *args: str) -> None:
    db.parent.mkdir(exist_ok=True)
    result = run_newsarchive("crawl", "news", "--db", str(db), *FAST, *PICTURES, *args)
    assert result.returncode == 0, result.stderr[-3000:]


def merge(db: Path, *shards: Path):
    return run_newsarchive("merge", *map(str, shards), "--db", str(db))


def view(db_path: Path) -> dict:
    """What must be equal between a merged archive and a single-process crawl (no times, no
    crawl ids, no capture ids: those are per run; no fetched URL: which of a page's URLs (the
    feed's with utm_ parameters, the section's) a crawl reaches first varies between runs)."""
    db = sqlite_utils.Database(db_path)

    def rows(sql: str) -> list:
        return sorted(json.dumps(list(r), sort_keys=True, default=str) for r in db.execute(sql).fetchall())

    return {
        "articles": rows("SELECT a.id, a.canonical_url, a.site, a.kind, a.title, a.description, "
                         "a.published, a.authors_text, a.tags_text, a.word_count, a.content_hash, "
                         "a.has_correction, a.removed_at IS NULL, t.body_text, a.capture_id IS NOT NULL "
                         "FROM articles a JOIN article_texts t ON t.article_id = a.id"),
        "authors": rows("SELECT aa.article_id, n.name, aa.position FROM article_authors aa "
                        "JOIN authors n ON n.id = aa.author_id"),
        "images": rows("SELECT id, url, width, height, sha256, phash, file_path, file_bytes, "
                       "capture_id IS NOT NULL FROM images"),
        "image_urls": rows("SELECT url, image_id FROM image_urls"),
        "article_images": rows("SELECT article_id, image_id, position, is_lead, caption, credit, "
                               "photographer, agency, alt, caption_source FROM article_images"),
        "videos": rows("SELECT id, provider, video_id, url, title, description FROM videos"),
        "article_videos": rows("SELECT article_id, video_id, position FROM article_videos"),
        "revisions": rows("SELECT article_id, changed_fields, old_values, old_content_hash, "
                          "new_content_hash, diff, corrections FROM revisions"),
        "failures": rows("SELECT url, stage, reason, http_status, attempts FROM failures"),
        "captures": rows("SELECT status, content_type, payload_digest FROM captures"),
        "placements": rows("SELECT page, article_url, article_id, rank, slot, headline, sightings "
                           "FROM placements"),
        "placement_pages": rows("SELECT page, is_home, links FROM placement_pages"),
        "sites": rows("SELECT site, name, base_url FROM sites"),
        "crawls": rows("SELECT spider, site, outcome, pages_new, pages_changed, pages_unchanged "
                       "FROM crawls"),
    }


def digest(db_path: Path) -> tuple[dict, str]:
    """Row counts of every table and a hash of every row (times included)."""
    db = sqlite_utils.Database(db_path)
    counts, sha = {}, hashlib.sha256()
    for table in sorted(db.table_names()):
        counts[table] = db[table].count
        if table.endswith(("_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")):
            continue
        for row in db.execute(f"SELECT * FROM [{table}] ORDER BY rowid").fetchall():
            sha.update(repr(row).encode())
    return counts, sha.hexdigest()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Two sites, each crawled into its own shard (folder with captures/ and images/), and both
    crawled by one process into one archive."""
    root = tmp_path_factory.mktemp("merge")
    with SiteServer(DEMO_SITE) as demo, SiteServer(SITES / "bad_input") as bad:
        crawl(root / "a" / "shard.db", *demo_args(demo.base_url))
        crawl(root / "b" / "shard.db", *bad_args(bad.base_url))
        crawl(root / "one" / "archive.db", *demo_args(demo.base_url))
        crawl(root / "one" / "archive.db", *bad_args(bad.base_url))
    return root


def test_merged_shards_equal_a_single_process_crawl(crawled, tmp_path):
    shards = (crawled / "a" / "shard.db", crawled / "b" / "shard.db")
    shard_bytes = [s.read_bytes() for s in shards]
    archive = tmp_path / "archive.db"
    result = merge(archive, *shards)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("merge ")]
    assert len(lines) == 2 and "articles 8 new, 0 changed, 0 unchanged" in lines[0], result.stderr
    assert "articles 2 new" in lines[1] and " failures" in lines[1]

    merged, single = view(archive), view(crawled / "one" / "archive.db")
    assert merged["articles"] and merged["images"] and merged["failures"] and merged["videos"]
    for table in single:
        assert merged[table] == single[table], table
    assert [s.read_bytes() for s in shards] == shard_bytes  # the shards are not written
    fetched = "SELECT id, url FROM articles UNION ALL SELECT id, url FROM captures"
    assert sorted(sqlite_utils.Database(archive).execute(fetched).fetchall()) == sorted(
        sqlite_utils.Database(shards[0]).execute(fetched).fetchall()
        + sqlite_utils.Database(shards[1]).execute(fetched).fetchall())

    # Captures point at copies of the WARC files under the archive's captures folder.
    db = sqlite_utils.Database(archive)
    warcs = {r["warc_file"] for r in db.query("SELECT DISTINCT warc_file FROM captures")}
    assert warcs and all(w.startswith("shards/") for w in warcs)
    row = next(db.query("SELECT a.title, c.warc_file, c.warc_offset, c.url FROM articles a "
                        "JOIN captures c ON c.id = a.capture_id WHERE a.site = 'demo' LIMIT 1"))
    stored = read_capture(tmp_path / "captures" / row["warc_file"], row["warc_offset"], decode=True)
    assert stored.url == row["url"] and stored.status == 200
    # Picture files came along, by name (their SHA-256).
    files = [r[0] for r in db.execute("SELECT file_path FROM images WHERE file_path IS NOT NULL")]
    assert files and all((tmp_path / "images" / f).is_file() for f in files)
    def thumbs(images: Path) -> set:
        return {p.relative_to(images) for p in (images / "thumbs").rglob("*.jpg")}

    shard_thumbs = thumbs(crawled / "a" / "images") | thumbs(crawled / "b" / "images")
    assert shard_thumbs and thumbs(tmp_path / "images") == shard_thumbs
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # Merging again changes nothing: each shard is known by its content.
    before = digest(archive)
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    again = merge(archive, *shards)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("merged before") == 2, again.stderr
    assert digest(archive) == before
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == files_before

    # Datasette searches the merged articles.
    async def search(path: str):
        ds = make_datasette(archive)
        await ds.invoke_startup()
        return await ds.client.get(path)

    response = asyncio.run(search("/archive/articles.json?_search=insurers&_shape=array"))
    assert response.status_code == 200
    assert any("black-sea-grain-corridor" in r["url"] for r in response.json())
    response = asyncio.run(search("/archive/articles.json?_search=harbour&_shape=array"))
    assert "Harbour authority approves night shipping" in [r["title"] for r in response.json()]


def test_a_changed_page_in_a_later_shard_becomes_one_revision(tmp_path):
    """The same site crawled twice (an article edited in between) into two shards, merged in
    order, equals both crawls run into one archive: the newer text, the older as a revision."""
    site = tmp_path / "site"
    shutil.copytree(SITES / "bad_input", site)
    page = site / "good-1.html"
    again = ("-s", "NEWSARCHIVE_INCREMENTAL=False")
    with SiteServer(site) as server:
        crawl(tmp_path / "s1" / "shard.db", *bad_args(server.base_url))
        crawl(tmp_path / "one" / "archive.db", *bad_args(server.base_url))
        page.write_text(page.read_text().replace("after six months", "after three months"))
        crawl(tmp_path / "s2" / "shard.db", *again, *bad_args(server.base_url))
        crawl(tmp_path / "one" / "archive.db", *again, *bad_args(server.base_url))
    archive = tmp_path / "merged" / "archive.db"
    archive.parent.mkdir()
    result = merge(archive, tmp_path / "s1" / "shard.db", tmp_path / "s2" / "shard.db")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "articles 0 new, 1 changed, 1 unchanged" in result.stderr, result.stderr
    merged, single = view(archive), view(tmp_path / "one" / "archive.db")
    assert len(merged["revisions"]) == 1 and "three months" in merged["articles"][0] + merged["articles"][1]
    for table in ("articles", "images", "article_images", "revisions", "failures", "videos"):
        assert merged[table] == single[table], table
    db = sqlite_utils.Database(archive)
    hits = db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'three'").fetchone()
    assert hits[0] == 1
    assert db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'six'").fetchone()[0] == 0


def test_a_held_lock_is_exit_75_and_a_non_archive_exit_2(crawled, tmp_path):
    archive = tmp_path / "archive.db"
    not_archive = tmp_path / "notes.db"
    not_archive.write_text("not a database\n")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    for bad in (not_archive, empty):
        result = merge(archive, crawled / "a" / "shard.db", bad)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "notes.db"]
    with (tmp_path / "archive.db.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = merge(archive, crawled / "a" / "shard.db")
    assert result.returncode == 75, result.stderr
    assert not archive.exists()
    # A shard a crawl still writes (it holds the shard's lock) is skipped, the others merged.
    with (crawled / "b" / "shard.db.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = merge(archive, crawled / "a" / "shard.db", crawled / "b" / "shard.db")
    (crawled / "b" / "shard.db.lock").unlink()
    assert result.returncode == 75, result.stderr
    assert "shard.db: skipped, still being written" in result.stderr
    db = sqlite_utils.Database(archive)
    assert {r[0] for r in db.execute("SELECT DISTINCT site FROM articles")} == {"demo"}
    assert db["merged_shards"].count == 1


def test_an_older_shard_is_migrated_in_a_copy(crawled, tmp_path):
    """A shard written by older code (schema 9: no merged_shards) is read from a migrated
    temporary copy; the shard file stays as it was."""
    shard = tmp_path / "old" / "shard.db"
    shutil.copytree(crawled / "b", shard.parent)
    with sqlite3.connect(shard) as conn:
        conn.execute("DROP TABLE merged_shards")
        conn.execute("PRAGMA user_version = 9")
    conn.close()
    before = shard.read_bytes()
    result = merge(tmp_path / "archive.db", shard)
    assert result.returncode == 0, result.stderr[-3000:]
    assert shard.read_bytes() == before
    db = sqlite_utils.Database(tmp_path / "archive.db")
    assert db["articles"].count == 2
    assert [r["schema_version"] for r in db.query("SELECT schema_version FROM merged_shards")] == [9]


# -- the store's merge on shards written through the store itself (every kind of row) ----------

BASE = "https://news.example.org"


def story(text: str, *, video_title: str | None = None) -> Article:
    """A story page written here (not from a dataset): a picture and a YouTube embed."""
    return Article(
        url=f"{BASE}/story", canonical_url=f"{BASE}/story", site="example", title="Flood barrier",
        body_text=text, authors=["Ana Lima"], tags=["floods"], published="2025-01-01T08:00:00+00:00",
        images=[Image(url=f"{BASE}/barrier.jpg", caption="The barrier", credit="Jo Doe/AP",
                      photographer="Jo Doe", agency="AP", phash="8f3a0c1e2d4b5a69", sha256="ab" * 32)],
        videos=[Video(provider="youtube", video_id="abc123XYZ_0", url="https://youtu.be/abc123XYZ_0",
                      title=video_title)],
    )


def other(url: str) -> Article:
    return Article(url=f"{BASE}/{url}", canonical_url=f"{BASE}/{url}", site="example",
                   title=f"Page {url}", body_text=f"The text of {url} about harbours.")


def write_first(archive: Archive) -> None:
    """Crawl 1 (January): the story, another page, the home page placing both, a failure."""
    crawl = archive.start_crawl(spider="news", site="example")
    at = "2025-01-01T10:00:00+00:00"
    archive.save_front_page(FrontPage(page=f"{BASE}/", is_home=True, placements=[
        Placement(article_url=f"{BASE}/story", url=f"{BASE}/story", rank=1, headline="Flood barrier"),
        Placement(article_url=f"{BASE}/gone", url=f"{BASE}/gone", rank=2),
    ]), crawl_id=crawl, seen_at=at)
    archive.save_article(story("The barrier held the first surge."), crawl_id=crawl, seen_at=at)
    archive.save_article(other("gone"), crawl_id=crawl, seen_at=at)
    archive.save_transcript(Transcript(
        provider="youtube", video_id="abc123XYZ_0", video_url="https://youtu.be/abc123XYZ_0",
        language="en", kind="auto", url="https://www.youtube.com/api/timedtext?v=abc123XYZ_0",
        segments=[TranscriptSegment(start_s=0.0, duration_s=2.0, text="the tide came in")],
    ), crawl_id=crawl, seen_at=at)
    archive.record_failure(CrawlFailure(url=f"{BASE}/broken", stage="http", reason="HTTP 500",
                                        http_status=500), crawl_id=crawl)
    archive.finish_crawl(crawl, stats={}, outcome="finished")


def write_second(archive: Archive) -> None:
    """Crawl 2 (February): the story edited, a new page, the home page again."""
    crawl = archive.start_crawl(spider="news", site="example")
    at = "2025-02-01T10:00:00+00:00"
    archive.save_front_page(FrontPage(page=f"{BASE}/", is_home=True, placements=[
        Placement(article_url=f"{BASE}/story", url=f"{BASE}/story", rank=1, headline="Flood barrier"),
    ]), crawl_id=crawl, seen_at=at)
    archive.save_article(story("The barrier held both surges.", video_title="Barrier test"),
                         crawl_id=crawl, seen_at=at)
    archive.save_article(other("new"), crawl_id=crawl, seen_at=at)
    archive.record_failure(CrawlFailure(url=f"{BASE}/broken", stage="http", reason="HTTP 503",
                                        http_status=503), crawl_id=crawl)
    archive.finish_crawl(crawl, stats={}, outcome="finished")


def write_third(archive: Archive) -> None:
    """Crawl 3 (March): the other page of crawl 1 is gone; the story is seen unchanged."""
    crawl = archive.start_crawl(spider="news", site="example")
    at = "2025-03-01T10:00:00+00:00"
    archive.mark_removed(f"{BASE}/gone", reason="HTTP 404", crawl_id=crawl, seen_at=at)
    archive.save_article(story("The barrier held both surges.", video_title="Barrier test"),
                         crawl_id=crawl, seen_at=at)
    archive.finish_crawl(crawl, stats={}, outcome="finished")


def store_merge(archive_path: Path, *shards: Path):
    with Archive(archive_path) as archive:
        return [merge_shard(archive, s, captures_dir=archive_path.parent / "captures",
                            images_dir=archive_path.parent / "images") for s in shards]


def test_store_merge_keeps_revisions_removals_placements_transcripts_and_failures(tmp_path):
    for name, writers in (("one", (write_first, write_second)), ("s1", (write_first,)),
                          ("s2", (write_second,))):
        (tmp_path / name).mkdir()
        with Archive(tmp_path / name / "archive.db") as archive:
            for write in writers:
                write(archive)
    shards = (tmp_path / "s1" / "archive.db", tmp_path / "s2" / "archive.db")
    first, second = store_merge(tmp_path / "archive.db", *shards)
    assert (first.articles["new"], second.articles["changed"], second.articles["new"]) == (2, 1, 1)
    merged, single = view(tmp_path / "archive.db"), view(tmp_path / "one" / "archive.db")
    assert len(merged["revisions"]) == 1 and len(merged["placements"]) == 3  # runs last a day
    for table in single:
        if table != "crawls":  # each crawl keeps the counts of its own job (2 new in shard 2)
            assert merged[table] == single[table], table
    assert merged["crawls"] == sorted(view(shards[0])["crawls"] + view(shards[1])["crawls"])
    db = sqlite_utils.Database(tmp_path / "archive.db")
    assert db.execute("SELECT attempts, reason FROM failures").fetchone() == (2, "HTTP 503")
    assert [r[0] for r in db.execute("SELECT text FROM transcripts")] == ["the tide came in"]
    assert db.execute("SELECT count(*) FROM transcripts_fts WHERE transcripts_fts MATCH 'tide'").fetchone()[0] == 1
    crawl_ids = {r[0] for r in db.execute("SELECT id FROM crawls")}
    for table, column in (("articles", "crawl_id"), ("revisions", "crawl_id"), ("failures", "crawl_id"),
                          ("placements", "last_crawl_id"), ("placement_pages", "crawl_id")):
        used = {r[0] for r in db.execute(f"SELECT DISTINCT {column} FROM {table}")}
        assert used and used <= crawl_ids, table
    assert {r[0] for r in db.execute("SELECT DISTINCT crawl_id FROM revisions")} == {max(crawl_ids)}


def test_a_shard_with_a_history_merges_into_its_own_likeness(tmp_path):
    """A shard that several crawls wrote (an edit, a removal, placement runs) replays into an
    empty archive as the same rows."""
    shard = tmp_path / "s" / "archive.db"
    shard.parent.mkdir()
    with Archive(shard) as archive:
        for write in (write_first, write_second, write_third):
            write(archive)
    (summary,) = store_merge(tmp_path / "archive.db", shard)
    assert summary.articles["new"] == 3 and summary.crawls == 3
    merged, original = view(tmp_path / "archive.db"), view(shard)
    assert len(merged["revisions"]) == 2
    for table in original:
        assert merged[table] == original[table], table
    times = "SELECT id, first_seen, last_seen, removed_at, crawl_id FROM articles ORDER BY id"
    assert sqlite_utils.Database(tmp_path / "archive.db").execute(times).fetchall() == \
        sqlite_utils.Database(shard).execute(times).fetchall()


def test_an_older_shard_merged_later_does_not_replace_the_newer_text(tmp_path):
    for name, write in (("s1", write_first), ("s2", write_second)):
        (tmp_path / name).mkdir()
        with Archive(tmp_path / name / "archive.db") as archive:
            write(archive)
    _, older = store_merge(tmp_path / "archive.db", tmp_path / "s2" / "archive.db",
                               tmp_path / "s1" / "archive.db")
    assert older.articles["older"] == 1
    db = sqlite_utils.Database(tmp_path / "archive.db")
    texts = [r[0] for r in db.execute("SELECT body_text FROM article_texts t JOIN articles a "
                                      "ON a.id = t.article_id WHERE a.url LIKE '%/story'")]
    assert texts == ["The barrier held both surges."]


def test_a_reader_keeps_reading_while_a_shard_is_merged(tmp_path, monkeypatch):
    """WAL and one transaction per shard: a reader in the middle of a read (as Datasette is)
    neither blocks the merge nor sees part of a shard."""
    shard = tmp_path / "s" / "archive.db"
    shard.parent.mkdir()
    with Archive(shard) as archive:
        write_first(archive)
    Archive(tmp_path / "archive.db").close()
    seen_mid_merge = []
    restore_counters = _Merger.restore_counters

    def look_then_restore(merger):  # runs after every article is replayed, before the commit
        with sqlite3.connect(tmp_path / "archive.db") as fresh:
            seen_mid_merge.append(fresh.execute("SELECT count(*) FROM articles").fetchone())
        restore_counters(merger)

    monkeypatch.setattr(_Merger, "restore_counters", look_then_restore)
    reader = sqlite3.connect(tmp_path / "archive.db")
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    (summary,) = store_merge(tmp_path / "archive.db", shard)
    assert summary.articles["new"] == 2
    assert seen_mid_merge == [(0,)], "a new reader saw part of the shard before its commit"
    assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    reader.commit()
    assert reader.execute("SELECT count(*) FROM articles").fetchone() == (2,)
    hits = reader.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'harbours'")
    assert hits.fetchone() == (1,)
    reader.close()
