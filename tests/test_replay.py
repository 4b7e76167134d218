"""Replay and re-extraction: crawl the demo site live, then answer a second crawl from its WARC
files with the site stopped; re-extract an archive whose stored rows an older extractor made."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import sqlite_utils

from newsarchive.demo.server import DEMO_SITE, SiteServer
from newsarchive.processors import canonical_url
from tests.conftest import FAST, run_newsarchive

ONLY_LOCAL_PICTURES = ("-s", "NEWSARCHIVE_IMAGE_DOMAINS=127.0.0.1")


def demo_args(base: str) -> list[str]:
    return ["-a", "site=demo", "-a", f"robots={base}/robots.txt", "-a", f"feeds={base}/feed.rss",
            "-a", f"sections={base}/", "-a", "video_patterns=^/video/"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A live crawl of the demo site (WARC files in captures/, pictures in images/ beside the db)."""
    folder = tmp_path_factory.mktemp("live")
    with SiteServer(DEMO_SITE) as server:
        base = server.base_url
        result = run_newsarchive("crawl", "news", "--db", str(folder / "live.db"), *FAST, *ONLY_LOCAL_PICTURES,
                                 *demo_args(base))
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, base


def rows(db: sqlite_utils.Database, sql: str) -> list[dict]:
    return [dict(r) for r in db.query(sql)]


def same_spelling(articles: list[dict]) -> list[dict]:
    return [{**r, "url": canonical_url(r["url"]), "capture_id": None} for r in articles]


ARTICLES = ("select id, url, canonical_url, site, kind, title, description, authors_text, published, section, "
            "language, body_text, content_hash, capture_id from articles "
            "join article_texts on article_texts.article_id = articles.id order by id")
IMAGES = ("select id, url, file_format, file_width, file_height, file_bytes, "
          "sha256, phash, file_path, thumbnail, capture_id from images order by id")
LINKS = ("select article_id, image_id, position, is_lead, caption, credit, photographer, agency, alt "
         "from article_images order by article_id, position")


def test_replay_offline_gives_the_same_archive(live, tmp_path):
    folder, base = live
    host, port = base.removeprefix("http://").split(":")
    with socket.socket() as sock:  # the site is down: only the WARC files can answer
        assert sock.connect_ex((host, int(port))) != 0

    missing = f"{base}/news/never-captured.html"
    replay_db = tmp_path / "replay.db"
    result = run_newsarchive("crawl", "news", "--db", str(replay_db), *FAST, *ONLY_LOCAL_PICTURES,
                             "--replay", str(folder / "captures" / "*.warc.gz"),
                             *demo_args(base), "-a", f"start_urls={missing}")
    assert result.returncode == 0, result.stderr[-3000:]

    a, b = sqlite_utils.Database(folder / "live.db"), sqlite_utils.Database(replay_db)
    assert a["articles"].count == 8
    # Same content, from the same captures, under the real URLs. (A page discovered under two
    # spellings, with and without tracking parameters, keeps the spelling fetched first, which
    # depends on the order responses arrive: compare canonical forms.)
    assert same_spelling(rows(b, ARTICLES)) == same_spelling(rows(a, ARTICLES))
    assert all(r["url"].startswith(base) for r in rows(b, ARTICLES))
    captured = {r["id"]: canonical_url(r["url"]) for r in rows(a, "select id, url from captures")}
    assert all(captured[r["capture_id"]] == canonical_url(r["url"]) for r in rows(b, ARTICLES))
    live_images, replay_images = rows(a, IMAGES), rows(b, IMAGES)
    assert replay_images == live_images
    assert sum(1 for r in replay_images if r["thumbnail"]) == 2  # the two demo pictures, thumbnails included
    assert rows(b, LINKS) == rows(a, LINKS)
    for r in replay_images:
        if r["file_path"]:
            assert (tmp_path / "images" / r["file_path"]).is_file()

    # A request the captures don't hold fails cleanly; the replay wrote no WARC of its own.
    failures = rows(b, "select url, stage, reason from failures where stage = 'replay'")
    assert failures == [{"url": missing, "stage": "replay", "reason": "not in the captures"}]
    assert not (tmp_path / "captures").exists()
    # Its captures rows point at the live crawl's files (absolute: outside its own WARC folder).
    captures = rows(b, "select warc_file from captures")
    assert captures and all(Path(r["warc_file"]).parent == folder / "captures" for r in captures)
    stats = json.loads(next(b.query("select stats from crawls"))["stats"])
    assert stats["newsarchive/replay/missing"] == 1 and stats.get("newsarchive/captures") is None


def test_reextract_updates_rows_and_records_revisions(live, tmp_path):
    folder, _base = live
    db_path = tmp_path / "old.db"
    sqlite_utils.Database(folder / "live.db").execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_path.write_bytes((folder / "live.db").read_bytes())
    db = sqlite_utils.Database(db_path)
    # What an older extractor would have stored for one page: another headline, a body cut
    # short, and the content hash that went with them.
    rm = next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where url like '%black-sea-grain-corridor%'"))
    db.execute("update articles set title = ?, content_hash = ? where id = ?",
               ["Black Sea grain | Demo Media", "older-extractor", rm["id"]])
    db.execute("update article_texts set body_text = ? where article_id = ?", ["Only the first paragraph.", rm["id"]])
    db.conn.commit()
    before = db["revisions"].count

    result = run_newsarchive("reextract", "--db", str(db_path), "--warc-dir", str(folder / "captures"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 changed, 7 unchanged" in result.stderr

    fixed = next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where id = ?", [rm["id"]]))
    assert fixed["title"] == rm["title"] and fixed["body_text"] == rm["body_text"]
    assert fixed["content_hash"] == rm["content_hash"] and fixed["capture_id"] == rm["capture_id"]
    revision = next(db.query("select * from revisions where article_id = ? order by id desc", [rm["id"]]))
    assert db["revisions"].count == before + 1
    # (A video row shared with the watch page may show up too: load_snapshot reads shared rows.)
    assert {"title", "body_text"} <= set(json.loads(revision["changed_fields"]))
    assert json.loads(revision["old_values"])["title"] == "Black Sea grain | Demo Media"
    crawl = next(db.query("select * from crawls order by id desc limit 1"))
    assert crawl["spider"] == "reextract" and crawl["outcome"] == "finished"
    assert revision["crawl_id"] == crawl["id"]
    # Pictures keep their downloaded facts and rows.
    assert rows(db, IMAGES) == rows(sqlite_utils.Database(folder / "live.db"), IMAGES)


def test_replay_without_matching_files_is_a_usage_error(tmp_path):
    result = run_newsarchive("crawl", "news", "--db", str(tmp_path / "x.db"), "--replay", str(tmp_path / "*.warc.gz"))
    assert result.returncode == 2 and "no file matches" in result.stderr
