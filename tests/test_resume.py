"""A crawl killed with SIGKILL and started again with the same job directory ends with every
article archived exactly once and an intact database."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import sqlite_utils

from newsarchive.demo.server import SiteServer
from tests.conftest import REPO, run_newsarchive

PAGES = 30


def write_site(root) -> None:
    """A site written by this test: PAGES short articles and an RSS feed listing them."""
    items = []
    for n in range(PAGES):
        (root / f"story-{n}.html").write_text(
            f"<html lang='en'><head><title>Story number {n} of the resumable crawl</title></head><body><article>"
            f"<h1>Story number {n} of the resumable crawl</h1>"
            f"<p>This is paragraph one of story {n}. It reports on council meeting number {n} and the vote "
            f"that followed it, which passed by {n + 3} votes to {n % 4}.</p>"
            f"<p>Residents of ward {n} asked for a second hearing, which the council scheduled for next month "
            f"after a short debate about the cost of the new library roof.</p></article></body></html>")
        items.append(f"<item><title>Story {n}</title><link>{{{{BASE}}}}/story-{n}.html</link></item>")
    (root / "feed.rss").write_text(f"<rss><channel><title>t</title>{''.join(items)}</channel></rss>")


def archived(db_path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            return conn.execute("select count(*) from articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_then_resume(tmp_path):
    site_root = tmp_path / "site"
    site_root.mkdir()
    write_site(site_root)
    db_path, jobdir = tmp_path / "resume.db", tmp_path / "job"
    with SiteServer(site_root) as site:
        args = ["crawl", "news", "--db", str(db_path), "-a", "site=resume", "-a", f"feeds={site.base_url}/feed.rss",
                "-s", f"JOBDIR={jobdir}", "-s", "AUTOTHROTTLE_ENABLED=False"]
        proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args, "-s", "DOWNLOAD_DELAY=0.25"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while archived(db_path) < 5 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = archived(db_path)
        assert 5 <= killed_at < PAGES, "the crawl was not killed half-way"

        again = run_newsarchive(*args, "-s", "DOWNLOAD_DELAY=0")
        assert again.returncode == 0, again.stderr[-3000:]

    db = sqlite_utils.Database(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    urls = [r["url"] for r in db.query("select url from articles")]
    assert len(urls) == len(set(urls)) == PAGES
    crawls = list(db.query("select id, outcome, finished from crawls order by id"))
    assert [c["outcome"] for c in crawls] == ["killed", "finished"]
