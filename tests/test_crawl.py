"""Real crawls: Scrapy against sites served on 127.0.0.1, into a real SQLite file."""
from __future__ import annotations

import json
import subprocess
import sys

import sqlite_utils

from tests.conftest import FAST, REPO, free_port, run_newsarchive


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    tables = ("articles", "authors", "article_authors", "tags", "article_tags", "images",
              "article_images", "videos", "article_videos", "revisions", "sites")
    return {t: db[t].count for t in tables}


def test_scrapy_lists_both_spiders():
    out = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert "news" in out and "gzero" in out


def test_demo_crawl_archives_every_sample_page_and_is_idempotent(tmp_path):
    db_path = tmp_path / "demo.db"
    port = str(free_port())
    first = run_newsarchive("demo", "--db", str(db_path), "--site-port", port)
    assert first.returncode == 0, first.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    before = counts(db)
    # 6 real news pages, 1 page in RebelMouse markup, 1 YouTube watch page.
    assert before["articles"] == 8
    kinds = {r["url"].rsplit("/", 1)[-1]: r["kind"] for r in db.query("select url, kind from articles")}
    assert kinds["youtube-watch-GJLlxj_dtq8.html"] == "video"
    assert sum(k == "article" for k in kinds.values()) == 7

    guardian = next(db.query("select * from articles where url like '%valencia-fire-death-toll%'"))
    assert guardian["title"].startswith("Death toll in Valencia fire rises to 10")
    assert guardian["published"].startswith("2024-02-24T11:42:23")
    assert guardian["site"] == "demo"

    # The RebelMouse page: two authors, its two pictures with caption and credit, its YouTube embed,
    # and nothing from the "More from" block.
    rm = next(db.query("select * from articles join article_texts on article_texts.article_id = articles.id where url like '%black-sea-grain-corridor%'"))
    assert "utm_source" not in rm["canonical_url"]
    authors = [r["name"] for r in db.query(
        "select a.name from authors a join article_authors aa on aa.author_id = a.id "
        "where aa.article_id = ? order by aa.position", [rm["id"]])]
    assert authors == ["Ana Lima", "Tom Becker"]
    pictures = list(db.query(
        "select i.url, ai.caption, ai.credit from images i join article_images ai on ai.image_id = i.id "
        "where ai.article_id = ? order by ai.position", [rm["id"]]))
    assert [p["url"].rsplit("/", 1)[-1] for p in pictures] == ["harbour-cranes.jpg", "grain-silo.jpg"]
    assert pictures[0]["caption"] == "Cargo cranes stand over the grain terminal at dawn."
    assert pictures[0]["credit"] == "REUTERS/Jane Example"
    assert pictures[1]["credit"] == "AP Photo/Sam Sample"
    videos = [r["video_id"] for r in db.query(
        "select v.video_id from videos v join article_videos av on av.video_id = v.id where av.article_id = ?",
        [rm["id"]])]
    assert videos == ["GJLlxj_dtq8"]
    assert "related story" not in (rm["body_text"] or "").lower()

    # Full-text search finds the article by a word of its body.
    hits = [r["url"] for r in db.query(
        "select a.url from articles_fts f join articles a on a.rowid = f.rowid where articles_fts match 'insurers'")]
    assert any("black-sea-grain-corridor" in u for u in hits)

    crawl = next(db.query("select * from crawls order by id desc limit 1"))
    assert crawl["outcome"] == "finished" and crawl["finished"]
    assert json.loads(crawl["stats"])["newsarchive/pages_new"] == 8

    # The second run downloads no page again: the sample pages are old (2024), not due for a
    # revisit an instant later, so they are skipped; one that were due would answer 304.
    second = run_newsarchive("demo", "--db", str(db_path), "--site-port", port)
    assert second.returncode == 0, second.stderr[-3000:]
    assert counts(db) == before
    last = next(db.query("select * from crawls order by id desc limit 1"))
    assert (last["pages_new"], last["pages_changed"]) == (0, 0)
    assert last["pages_unchanged"] + last["pages_skipped"] == 8
    assert json.loads(last["stats"]).get("downloader/response_status_count/304", 0) == last["pages_unchanged"]
    assert db["crawls"].count == 2
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_bad_input_becomes_failures_and_the_crawl_goes_on(tmp_path, bad_site):
    db_path = tmp_path / "bad.db"
    result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST,
                             "-a", "site=badsite", "-a", f"feeds={bad_site.base_url}/feed.rss")
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    assert sorted(r["title"] for r in db.query("select title from articles")) == [
        "Harbour authority approves night shipping", "Library reopens with a quieter reading room"]
    failures = {r["url"].rsplit("/", 1)[-1]: (r["stage"], r["reason"]) for r in db.query("select * from failures")}
    assert failures["report.pdf"] == ("content-type", "not HTML: application/pdf")
    assert failures["empty.html"] == ("extract", "empty document")
    assert failures["broken.html"][0] == "validate"
    assert failures["missing.html"] == ("http", "HTTP 404")
    assert failures["error.html"] == ("http", "HTTP 500")
    assert failures["gone.html"] == ("http", "HTTP 410")
    assert failures["secret.html"][0] == "ignored"
    assert "offsite.html" not in failures and not any("elsewhere" in r["url"] for r in db.query("select url from articles"))
    assert all(r["crawl_id"] == 1 for r in db.query("select crawl_id from failures"))
    picture = next(db.query("select * from article_images"))
    assert picture["caption"] == "The container terminal lit for a trial night shift."
    assert picture["credit"] == "Ola Nordmann/Harbour Press"
    # A second run archives nothing twice and keeps one failures row per URL and stage.
    n_failures = db["failures"].count
    again = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST,
                            "-a", "site=badsite", "-a", f"feeds={bad_site.base_url}/feed.rss")
    assert again.returncode == 0, again.stderr[-3000:]
    assert db["articles"].count == 2 and db["failures"].count == n_failures
    # The feed dates the two good pages: unchanged since the last run, they are not downloaded.
    last = next(db.query("select * from crawls order by id desc limit 1"))
    assert (last["pages_skipped"], last["pages_new"], last["pages_unchanged"]) == (2, 0, 0)
    assert {r["attempts"] for r in db.query("select attempts from failures")} == {2}


def test_since_and_max_articles_bound_a_run(tmp_path, bad_site):
    db_path = tmp_path / "bounded.db"
    result = run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, "-a", "site=badsite",
                             "-a", f"feeds={bad_site.base_url}/feed.rss", "-a", "since=2025-03-04",
                             "-a", "max_articles=1")
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(db_path)
    assert [r["title"] for r in db.query("select title from articles")] == ["Library reopens with a quieter reading room"]


def test_unknown_site_is_a_clear_error(tmp_path):
    result = run_newsarchive("crawl", "no-such-site", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert "no profile 'no-such-site'" in result.stderr and "gzero" in result.stderr


def test_a_second_crawl_on_the_same_archive_is_refused(tmp_path):
    from newsarchive.crawl import archive_lock

    db_path = tmp_path / "locked.db"
    with archive_lock(db_path):  # as a running crawl holds it
        result = run_newsarchive("crawl", "gzero", "--db", str(db_path))
    assert result.returncode == 75
    assert "not starting a second crawl" in result.stderr
    assert not db_path.exists()


def test_the_local_site_keeps_connections_open_when_asked():
    """bench_crawl's site keeps each connection open between requests (HTTP/1.1), as news sites
    do, so that a crawl's figures do not carry a TCP connection per page; the tests' sites close
    it after each answer (a route's made-up Content-Length then cannot stall a client)."""
    import http.client
    from urllib.parse import urlsplit

    from newsarchive.demo.server import SiteServer

    for keep_alive in (True, False):
        with SiteServer(keep_alive=keep_alive) as server:
            address = urlsplit(server.base_url)
            conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            answers = []
            for _ in range(2):
                conn.request("GET", "/robots.txt")
                response = conn.getresponse()
                answers.append((response.status, response.will_close, bool(response.read())))
            conn.close()
        assert answers == [(200, not keep_alive, True)] * 2
