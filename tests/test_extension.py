"""The crawl's archive has one owner (newsarchive/extension.py): every failure, whichever part of
the crawl finds it, is one ``failures`` row AND one count in the crawl's stats (the ``crawls``
row and the end-of-run summary), a live crawl and a replay alike; a second writer is refused.

The site is written here (tests/sites/hostile.py serves it byte by byte on 127.0.0.1); no page
of a real publisher.
"""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter

import pytest
import sqlite_utils

from tests.conftest import FAST, REPO, free_port, run_newsarchive
from tests.sites.hostile import HostileSite, article_html

NO_RETRY = ("-s", "RETRY_TIMES=0")
#: A host no live crawl reached: in a replay the captures hold nothing of it.
UNCAPTURED_HOST = "127.0.0.2"


def _serve(site: HostileSite) -> list[str]:
    """A site whose failures come from every part of the crawl; the article pages asked for."""
    robots = gzip.compress(b"User-agent: *\nAllow: /\n" * 40)
    # robots.txt (fetched by Scrapy's RobotsTxtMiddleware, no errback): a gzip stream cut short,
    # refused by BodyCheckMiddleware, which writes the failure itself.
    site.page("/robots.txt", robots[: len(robots) // 2], content_type="text/plain",
              headers={"Content-Encoding": "gzip"})
    # A picture that is not one: the images pipeline's failure.
    figure = ('<figure><img src="/img/broken.jpg" alt="The pier at night"><figcaption>The pier at night. '
              "Photo: Ola Nordmann/Harbour Press</figcaption></figure>")
    site.page("/story.html", article_html("The pier reopens after the winter storms", figure=figure))
    site.page("/img/broken.jpg", b"this is not a picture at all" * 10, content_type="image/jpeg")
    # Markup with no title and no text: dropped by validation, recorded by the store pipeline.
    site.page("/broken.html", "<html <head><<title ><body <p <<<< </p </ht")
    # /missing.html is not served: 404, a failure item from the spider's errback.
    return ["/story.html", "/broken.html", "/missing.html"]


def _crawl(db_path, urls: list[str], domains: str, *extra: str) -> subprocess.CompletedProcess:
    return run_newsarchive("crawl", "news", "--db", str(db_path), *FAST, *NO_RETRY, "-a", "site=owner",
                           "-a", f"domains={domains}", "-a", "start_urls=" + ",".join(urls), *extra)


def _by_stage(db: sqlite_utils.Database) -> tuple[Counter, dict]:
    """The failures rows by stage, and the crawls row's stats of the latest crawl."""
    crawl = next(db.query("select id, stats from crawls order by id desc limit 1"))
    rows = Counter(r["stage"] for r in db.query("select stage from failures where crawl_id = ?", [crawl["id"]]))
    return rows, json.loads(crawl["stats"])


def _counted(stats: dict) -> Counter:
    prefix = "newsarchive/failures/"
    return Counter({k.removeprefix(prefix): v for k, v in stats.items() if k.startswith(prefix)})


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live crawl of the site (its WARC files in captures/ beside the archive)."""
    folder = tmp_path_factory.mktemp("owner")
    with HostileSite("127.0.0.1") as site:
        urls = [site.url(path) for path in _serve(site)]
        result = _crawl(folder / "live.db", urls, "127.0.0.1")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, urls, result


def test_every_failure_of_a_live_crawl_is_counted(live):
    folder, _, result = live
    rows, stats = _by_stage(sqlite_utils.Database(folder / "live.db"))
    # One of each: the truncated robots.txt (a middleware), the broken picture (images pipeline),
    # the 404 (the spider) and the dropped page (validation).
    assert rows == Counter({"truncated": 1, "image": 1, "http": 1, "validate": 1})
    assert _counted(stats) == rows
    assert "truncated 1" in result.stderr and "Failures: 4:" in result.stderr


def test_every_replay_miss_is_counted(live, tmp_path):
    """A replay miss the replay middleware records itself (robots.txt of a host never captured)
    counts like the one the spider's errback turns into an item (the page itself)."""
    folder, urls, _ = live
    uncaptured = f"http://{UNCAPTURED_HOST}:{free_port()}/never-captured.html"
    result = _crawl(tmp_path / "replay.db", [*urls, uncaptured], f"127.0.0.1,{UNCAPTURED_HOST}",
                    "--replay", str(folder / "captures" / "*.warc.gz"))
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(tmp_path / "replay.db")
    rows, stats = _by_stage(db)
    replayed = {r["url"] for r in db.query("select url from failures where stage = 'replay'")}
    assert replayed == {uncaptured, uncaptured.replace("/never-captured.html", "/robots.txt")}
    assert rows == Counter({"replay": 2, "truncated": 1, "image": 1, "http": 1, "validate": 1})
    assert _counted(stats) == rows
    assert "replay 2" in result.stderr


def test_scrapy_crawl_on_a_held_archive_stops_with_one_line(tmp_path):
    """Without the CLI (plain ``scrapy crawl``, Scrapyd) the extension finds the archive held:
    the spider closes before any request, with one log line and no traceback; nothing is created."""
    from newsarchive.crawl import archive_lock

    db_path = tmp_path / "held.db"
    with archive_lock(db_path):  # as a running crawl holds it
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=held", "-a",
             f"start_urls=http://127.0.0.1:{free_port()}/a.html", "-s", f"NEWSARCHIVE_DB={db_path}",
             "-s", f"IMAGES_STORE={tmp_path / 'images'}"],
            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "not starting a second crawl" in result.stderr
    assert "Closing spider (archive_locked)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()


def test_scrapy_crawl_into_a_file_that_is_not_an_archive_stops_and_leaves_it(tmp_path):
    """A file that is not an archive: the spider closes before any request; the file is untouched
    and no lock file is left behind."""
    db_path = tmp_path / "notes.db"
    db_path.write_text("my notes, not an archive\n")
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=notes", "-a",
         f"start_urls=http://127.0.0.1:{free_port()}/a.html", "-s", f"NEWSARCHIVE_DB={db_path}",
         "-s", f"IMAGES_STORE={tmp_path / 'images'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "Closing spider (archive_unusable)" in result.stderr, result.stderr[-3000:]
    assert db_path.read_text() == "my notes, not an archive\n"
    assert not (tmp_path / "notes.db.lock").exists()
