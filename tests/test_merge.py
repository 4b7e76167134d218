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
    crawl ids, no capture ids: those are per run)."""
    db = sqlite_utils.Database(db_path)

    def rows(sql: str) -> list:
        return sorted(json.dumps(list(r), sort_keys=True, default=str) for r in db.execute(sql).fetchall())

    return {
        "articles": rows("SELECT a.id, a.url, a.canonical_url, a.site, a.kind, a.title, a.description, "
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
        "captures": rows("SELECT url, status, content_type, payload_digest FROM captures"),
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
